#!/usr/bin/env node
// Drives pm2 for lifecycle-bench through its programmatic API (the module the `pm2` command
// uses), with PM2_HOME in the benchmark's directory:
//
//     node pm2-driver.js PM2_MODULE_DIR APPS_JSON
//
// APPS_JSON: a file holding pm2's app declarations. One request per line on standard input,
// one answer per line on standard output (as driver.py): start NAME..., stop NAME...,
// startall, stopall, pid NAME, kill (stops the pm2 daemon). Answers: "ok [VALUE]" or
// "err MESSAGE".
'use strict';
const fs = require('fs');
const readline = require('readline');
const pm2 = require(process.argv[2]);
const apps = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));

const answer = (text) => process.stdout.write(text + '\n');
const done = (err, value) =>
  err ? answer('err ' + String(err.message || JSON.stringify(err)).replace(/\s+/g, ' '))
      : answer(value === undefined ? 'ok' : 'ok ' + value);

// One after another, as the requests arrive.
const inOrder = (names, each, cb) => {
  const next = (i) => (i === names.length ? cb(null) : each(names[i], (err) => (err ? cb(err) : next(i + 1))));
  next(0);
};

const commands = {
  start: (names, cb) => inOrder(names, (n, k) => pm2.start(apps.find((a) => a.name === n), k), cb),
  stop: (names, cb) => inOrder(names, (n, k) => pm2.stop(n, k), cb),
  startall: (_, cb) => pm2.start({ apps }, (err) => cb(err)),
  stopall: (_, cb) => pm2.stop('all', (err) => cb(err)),
  pid: (names, cb) => pm2.describe(names[0], (err, list) => cb(err, list && list[0] && list[0].pid)),
  kill: (_, cb) => pm2.killDaemon((err) => cb(err)),
};

pm2.connect((err) => {
  if (err) {
    answer('err cannot connect: ' + err.message);
    process.exit(1);
  }
  answer('ok connected');
  const lines = readline.createInterface({ input: process.stdin });
  const queue = [];
  let busy = false;
  let closed = false;
  const pump = () => {
    if (busy) return;
    if (queue.length === 0) {
      if (closed) pm2.disconnect();
      return;
    }
    busy = true;
    const words = queue.shift().split(/\s+/).filter(Boolean);
    const command = commands[words[0]];
    const finish = (e, v) => { done(e, v); busy = false; pump(); };
    if (!command) return finish(new Error('unknown request ' + words[0]));
    try { command(words.slice(1), finish); } catch (e) { finish(e); }
  };
  lines.on('line', (line) => { if (line.trim()) { queue.push(line); pump(); } });
  lines.on('close', () => { closed = true; pump(); });
});
