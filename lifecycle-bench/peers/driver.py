#!/usr/bin/env python3
"""Drives supervisord or circusd for lifecycle-bench, through their own client libraries.

    driver.py supervisord SOCKET     # supervisord's XML-RPC interface on a Unix socket
    driver.py circus ENDPOINT        # circusd's ZeroMQ control endpoint (ipc://...)

One request per line on standard input, one answer per line on standard output, so the
benchmark times a manager's work without the start-up of a command-line client:

    start NAME...    start these; answer when the manager reports them running
    stop NAME...     stop these; answer when the manager reports them stopped
    startall         start every program
    stopall          stop every program
    pid NAME         the PID the manager knows for NAME

Answers: "ok" or "ok VALUE", or "err MESSAGE".
"""

import sys


def supervisord(socket_path):
    import xmlrpc.client

    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, "unix://" + socket_path)
    rpc = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def check_all(results):
        failed = [r for r in results if r.get("status") != 80]  # 80: SUCCESS
        if failed:
            raise RuntimeError(repr(failed[:3]))

    return {
        "start": lambda names: [rpc.startProcess(n, True) for n in names],
        "stop": lambda names: [rpc.stopProcess(n, True) for n in names],
        "startall": lambda _: check_all(rpc.startAllProcesses(True)),
        "stopall": lambda _: check_all(rpc.stopAllProcesses(True)),
        "pid": lambda names: rpc.getProcessInfo(names[0])["pid"],
    }


def circus(endpoint):
    from circus.client import CircusClient

    client = CircusClient(endpoint=endpoint, timeout=600)

    def call(command, **properties):
        answer = client.call({"command": command, "properties": properties})
        if answer.get("status") != "ok":
            raise RuntimeError(repr(answer))
        return answer

    return {
        "start": lambda names: [call("start", name=n, waiting=True) for n in names],
        "stop": lambda names: [call("stop", name=n, waiting=True) for n in names],
        # circusd's own "start" without a name starts only the autostart watchers; it runs
        # one command at a time ("arbiter is already running watcher_start command"), so
        # each watcher is started in turn, as circusctl would.
        "startall": lambda _: [
            call("start", name=n, waiting=True) for n in call("list")["watchers"]
        ],
        "stopall": lambda _: call("stop", waiting=True),
        "pid": lambda names: call("list", name=names[0])["pids"][0],
    }


def main():
    kind, address = sys.argv[1], sys.argv[2]
    commands = {"supervisord": supervisord, "circus": circus}[kind](address)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            value = commands[words[0]](words[1:])
            answer = "ok %s" % value if isinstance(value, (int, str)) else "ok"
        except Exception as error:  # the benchmark reports it, with the request
            answer = "err %s" % " ".join(str(error).split())
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
