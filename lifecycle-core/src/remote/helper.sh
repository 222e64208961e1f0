# The remote helper of lifecycle: one per manager and host, started once over the host's SSH
# connection, it reads requests on stdin and answers on stdout, so that an operation costs one
# round trip instead of a remote login shell. POSIX sh on Linux, plus setsid(1) with `-f`,
# flock(1), mkfifo(1), od(1) and a `sleep` that takes fractions (util-linux and coreutils;
# busybox's setsid has no `-f` and is refused at hello).
#
# Requests are one line each: `ID OP FIELD...`. Numbers are plain digits; every other field is
# `=` followed by its value with each byte outside [A-Za-z0-9_./@:+,=-] written as a backslash
# and three octal digits, so no field holds a space, a newline, a quote or any other byte a
# shell reads as syntax, and no value ever becomes code: values are decoded into variables by
# printf and used only quoted.
#
# Answers are one line each: `r ID WORD...`; `x ID STATUS` tells that the daemon started by
# request ID exited; `g ID` that a grace of stop ID ran out. Record texts travel with their
# lines joined by carriage returns (a record line never holds one). The loop reads requests
# from stdin itself; every answer, from the loop or from the processes beside it (the keepers
# a start leaves behind, stops, watches, the slower operations), is one whole line of at most
# PIPE_BUF bytes written in one write to a FIFO (`run/out.NONCE`, opened for each line), which
# one `cat` copies to the session's output: the only writer there, so no line is ever cut by
# another. When the manager goes (stdin closes) or the loop ends otherwise, it kills the
# daemons it was asked to (`start` with KILL 1: a manager that stops what it started when it
# goes; their wrappers list them in `run/owned.NONCE`), closes its end of the FIFO and exits;
# `cat` then ends, and with it the session: no process of ours holds the session's output.
#
# The text is in $LIFECYCLE_HELPER_SRC (exported to the helper's own processes, never to a
# daemon). Invoked as `sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle MODE ARGS...`: MODE
# `keeper` and `wrapper` are the processes a start leaves behind (see `keeper`).

CR=$(printf '\r')

say() {
    printf '%s\n' "$*"
}

# Writes line $2 to the session through FIFO $1 (opened read-write: never blocks, even when
# the relay is gone; and nothing is written once the loop removed it). One printf: one write.
tell() {
    [ -p "$1" ] && printf '%s\n' "$2" 1<>"$1"
}

# An answer, of the loop or of a process beside it.
reply() {
    tell "$fifo" "$*"
}

# An answer `r ID WORDS TEXT` whose TEXT (a record) may be long: one line when short, else the
# text in `c ID PIECE` lines of at most 800 characters (3200 bytes) first, then `r ID WORDS`.
# Every line stays under PIPE_BUF.
reply_text() {
    _rt=$3
    if [ "${#_rt}" -le 800 ]; then
        reply "r $1 $2 $_rt"
        return
    fi
    _q=????????????????????????????????????????????????????????????????????????????????????????????????????
    _q=$_q$_q$_q$_q$_q$_q$_q$_q
    while [ "${#_rt}" -gt 800 ]; do
        _rest=${_rt#$_q}
        reply "c $1 ${_rt%"$_rest"}"
        _rt=$_rest
    done
    reply "c $1 $_rt"
    reply "r $1 $2"
}

# Decodes field $1 into v.
dec() {
    v=${1#=}
    case $v in
    *\\*)
        v=$(printf "$v"; printf x)
        v=${v%x}
        ;;
    esac
}

# Whether every argument is a decimal number (what arithmetic and kill may see).
digits() {
    for _d; do
        case $_d in
        '' | *[!0-9]*) return 1 ;;
        esac
    done
}

# The start time (field 22 of /proc/PID/stat) and state of process $1, into st and pstate;
# false when there is no such process.
starttime() {
    st=
    pstate=
    { IFS= read -r _s <"/proc/$1/stat"; } 2>/dev/null || return 1
    _s=${_s##*) }
    _ifs=$IFS
    IFS=' '
    set -f
    # shellcheck disable=SC2086
    set -- $_s
    set +f
    IFS=$_ifs
    pstate=$1
    st=${20}
    [ -n "$st" ]
}

# Whether process $1 runs with start time $2 (a zombie has exited).
alive() {
    starttime "$1" && [ "$st" = "$2" ] && [ "$pstate" != Z ]
}

# The time since boot in hundredths of a second, into cs.
now_cs() {
    IFS=' ' read -r _up _ </proc/uptime
    _up=${_up%.*}${_up#*.}
    _up=${_up#"${_up%%[!0]*}"}
    cs=$((${_up:-0}))
}

# Takes the lock of daemon file name $1 (flock on fd 9, up to five seconds). The kernel lets
# go of it if this process dies; it is closed before anything is exec'd.
lock() {
    _lf=$dir/locks/$1
    [ -h "$_lf" ] && return 1
    { command exec 9>>"$_lf"; } 2>/dev/null || return 1
    flock -w 5 9
}

unlock() {
    exec 9>&-
}

# Reads record $1 into text (lines joined by CR), rpid, rst, rboot, rgen; false if none, or
# if it is not this user's (a record another user could write names nothing of ours).
readrec() {
    text=
    rpid=
    rst=
    rboot=
    rgen=
    [ -f "$1" ] && [ -O "$1" ] && ! [ -h "$1" ] || return 1
    while IFS= read -r _l; do
        case $_l in
        pid=*) rpid=${_l#*=} ;;
        start_time=*) rst=${_l#*=} ;;
        boot_id=*) rboot=${_l#*=} ;;
        generation=*) rgen=${_l#*=} ;;
        esac
        text=$text$_l$CR
    done <"$1"
    digits "$rpid" "$rst"
}

# Whether the process record read by readrec names: live, gone, or otherboot, into live.
liveness() {
    if [ "$rboot" != "$boot" ]; then
        live=otherboot
    elif alive "$rpid" "$rst"; then
        live=live
    else
        live=gone
    fi
}

# Signals $2 (a name) to group $1; to process $1 alone in the instant before it made its
# group, and only while it is the process started at $3. `kill -NAME -PGID` is the form dash,
# bash and busybox all take.
sendsig() {
    kill -"$2" -"$1" 2>/dev/null || { alive "$1" "$3" && kill -"$2" "$1" 2>/dev/null; }
}

# Whether anything of group $1 is left.
group_left() {
    kill -0 -"$1" 2>/dev/null
}

# Waits up to $2 hundredths of a second (by the clock, however slow the polls) for group $1
# (led by $1 with start time $3) to be gone; the first checks come without a pause (a process
# that dies on its signal is gone within them), then one every 10 ms.
waitgone() {
    now_cs
    _until=$((cs + $2))
    _quick=100
    while group_left "$1" || alive "$1" "$3"; do
        if [ "$_quick" -gt 0 ]; then
            _quick=$((_quick - 1))
            continue
        fi
        now_cs
        [ "$cs" -lt "$_until" ] || return 1
        sleep 0.01
    done
}

# stop ID PID START CONFIRM_MS [SIGNAL|wait GRACE_MS]...: the stop chain, inside this host,
# beside the main loop.
op_stop() {
    _id=$1 pid=$2 want=$3 confirm=$4
    shift 4
    if ! digits "$pid" "$want" "$confirm"; then
        reply "r $_id err args"
        return
    fi
    for _s; do
        case $_s in
        HUP | INT | QUIT | TERM | USR1 | USR2 | wait | [0-9]*) ;;
        *)
            reply "r $_id err args"
            return
            ;;
        esac
    done
    if starttime "$pid"; then
        if [ "$st" != "$want" ]; then
            # Someone else holds the PID now: nothing of ours can be told apart.
            reply "r $_id notours"
            return
        fi
    elif ! group_left "$pid"; then
        reply "r $_id gone 0"
        return
    fi
    while [ $# -ge 2 ]; do
        digits "$2" || break
        if [ "$1" != wait ]; then
            sendsig "$pid" "$1" "$want"
            sendsig "$pid" CONT "$want"
        fi
        if waitgone "$pid" $(($2 / 10)) "$want"; then
            reply "r $_id gone 0"
            return
        fi
        reply "g $_id"
        shift 2
    done
    sendsig "$pid" KILL "$want"
    if waitgone "$pid" $((confirm / 10)) "$want"; then
        reply "r $_id gone 1"
    else
        reply "r $_id alive"
    fi
}

# watch ID PID START: tells `x ID -1` once the process is gone (for a daemon this helper did
# not start, whose exit no keeper reports): a check a second, while the helper runs.
op_watch() {
    while alive "$2" "$3" && [ -p "$fifo" ]; do
        sleep 1
    done
    reply "x $1 -1"
}

# The process a start leaves behind, in a session of its own, its output nowhere: runs the
# wrapper in the foreground (so that the daemon keeps default signal dispositions), then tells
# its exit. Arguments: DIR FIFO OWNED ID REQUEST (a file holding the start's fields, private
# to this user: values such as the environment never show in a command line).
keeper() {
    fifo=$2
    sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle wrapper "$@"
    reply "x $4 $?"
}

# Becomes the daemon: checks its binary and log, then under the daemon's lock refuses when its
# record names a live process, writes its record (the manager's template with this process's
# identity), lists itself in OWNED if the manager stops what it starts, answers with PID and
# start time, and execs the binary in a new session, its environment as the spec gives, its
# output appended to the log. Fields (from the request file): NAME KILL TEMPLATE LOG BINARY
# INHERIT NKEEP KEEP... NENV ENV... ARG...
wrapper() {
    dir=$1 fifo=$2 owned=$3 id=$4
    fail() {
        reply "r $id err $1"
        exit 0
    }
    IFS= read -r _req <"$5" || fail args
    rm -f "$5"
    # A daemon of a manager that stops what it starts is listed before anything else, under the
    # lock `finish` takes too: either it is listed and killed at the end, or the helper has
    # ended and it is not started at all.
    starttime $$
    me=$st
    set -f
    # shellcheck disable=SC2086
    set -- $_req
    set +f
    [ $# -ge 8 ] || fail args
    dec "$1"
    name=$v
    kill_on_eof=$2
    dec "$3"
    tmpl=$v
    dec "$4"
    log=$v
    dec "$5"
    bin=$v
    inherit=$6
    shift 6
    digits "$1" || fail args
    if [ "$kill_on_eof" = 1 ]; then
        { command exec 8<"$dir/run"; } 2>/dev/null || fail spawn
        flock 8 || fail spawn
        if ! [ -p "$fifo" ]; then
            exit 0
        fi
        printf '%s %s\n' "$$" "$me" >>"$owned"
        exec 8<&-
    fi
    read -r boot </proc/sys/kernel/random/boot_id
    # The binary, resolved now (the spec's environment may hold another PATH).
    case $bin in
    *=*) fail binary ;;
    */*) [ -f "$bin" ] && [ -x "$bin" ] || fail nobinary ;;
    *)
        _p=$(command -v "$bin" 2>/dev/null)
        case $_p in
        /*) bin=$_p ;;
        *) fail nobinary ;;
        esac
        ;;
    esac
    # The log: its directory made, no link followed, appendable (in a subshell: a failed
    # redirection may end the shell that makes it).
    case $log in
    */*) [ -d "${log%/*}" ] || mkdir -p "${log%/*}" 2>/dev/null || fail log ;;
    esac
    [ -h "$log" ] && fail log
    (: >>"$log") 2>/dev/null || fail log
    # The command line, decoded. Inheriting everything, the spec's variables are exported, last
    # (never in a command line, and nothing of this script runs with them); inheriting only
    # some, `env -i` gets them as arguments.
    _n=$#
    _export=
    [ "$inherit" = all ] || set -- "$@" env -i
    _k=$1
    shift
    _n=$((_n - 1))
    while [ "$_k" -gt 0 ]; do
        dec "$1"
        shift
        _n=$((_n - 1))
        _k=$((_k - 1))
        if _val=$(printenv "$v"); then
            set -- "$@" "$v=$_val"
        fi
    done
    digits "$1" || fail args
    _k=$1
    shift
    _n=$((_n - 1))
    while [ "$_k" -gt 0 ]; do
        dec "$1"
        _f=$1
        shift
        _n=$((_n - 1))
        _k=$((_k - 1))
        case ${v%%=*} in
        '' | [0-9]* | *[!A-Za-z0-9_]*) fail args ;;
        esac
        if [ "$inherit" = all ]; then
            _export="$_export $_f"
        else
            set -- "$@" "$v"
        fi
    done
    set -- "$@" "$bin"
    while [ "$_n" -gt 0 ]; do
        dec "$1"
        shift
        _n=$((_n - 1))
        set -- "$@" "$v"
    done
    rec=$dir/daemons/$name.record
    lock "$name" || fail lock
    if readrec "$rec"; then
        liveness
        if [ "$live" = live ]; then
            unlock
            reply_text "$id" "exists $live" "$text"
            exit 0
        fi
        rm -f "$rec"
    fi
    while IFS= read -r _l; do
        case $_l in
        '' | sum=*) continue ;;
        pid=* | pgid=* | session=*) _l="${_l%%=*}=$$" ;;
        start_time=*) _l="start_time=$me" ;;
        boot_id=*) _l="boot_id=$boot" ;;
        esac
        printf '%s\n' "$_l"
    done >"$rec.new" <<EOF
$tmpl
EOF
    if ! mv -f "$rec.new" "$rec"; then
        rm -f "$rec.new"
        unlock
        fail record
    fi
    unlock
    reply "r $id ok $$ $me $boot"
    _setsid=$(command -v setsid)
    umask "${LIFECYCLE_HELPER_UMASK:-022}"
    unset LIFECYCLE_HELPER_SRC LIFECYCLE_HELPER_UMASK
    exec </dev/null >>"$log" 2>&1
    for _f in $_export; do
        dec "$_f"
        export "$v"
    done
    exec "$_setsid" "$@"
}

# status ID NAME: the record and whether it names a live process.
op_status() {
    dec "$2"
    if readrec "$dir/daemons/$v.record"; then
        liveness
        reply_text "$1" "rec $live" "$text"
    else
        reply "r $1 none"
    fi
}

# state ID NAME: what a status needs, from the record's head only (state, PID, start time,
# boot: its first lines): whether its process runs, its state, PID and start time.
op_state() {
    dec "$2"
    _r=$dir/daemons/$v.record
    rpid=
    rst=
    rboot=
    _st=
    if [ -f "$_r" ] && [ -O "$_r" ] && ! [ -h "$_r" ]; then
        while IFS= read -r _l; do
            case $_l in
            state=*) _st=${_l#*=} ;;
            pid=*) rpid=${_l#*=} ;;
            start_time=*) rst=${_l#*=} ;;
            boot_id=*)
                rboot=${_l#*=}
                break
                ;;
            esac
        done <"$_r"
    fi
    if digits "$rpid" "$rst"; then
        liveness
        reply "r $1 st $live $_st $rpid $rst"
    else
        reply "r $1 none"
    fi
}

# put ID NAME GENERATION TEXT: replaces the record if its generation is GENERATION (0: if
# there is none).
op_put() {
    dec "$2"
    _k=$v
    _r=$dir/daemons/$_k.record
    if ! digits "$3" || ! lock "$_k"; then
        reply "r $1 err lock"
        return
    fi
    readrec "$_r" || rgen=0
    if [ "$rgen" != "$3" ]; then
        unlock
        reply "r $1 conflict $rgen"
        return
    fi
    dec "$4"
    if printf '%s' "$v" >"$_r.new" && mv -f "$_r.new" "$_r"; then
        unlock
        reply "r $1 ok"
    else
        rm -f "$_r.new"
        unlock
        reply "r $1 err record"
    fi
}

# remove ID NAME PID START: removes the record if it still names that process.
op_remove() {
    dec "$2"
    _k=$v
    _r=$dir/daemons/$_k.record
    if ! lock "$_k"; then
        reply "r $1 err lock"
        return
    fi
    if readrec "$_r" && [ "$rpid" = "$3" ] && [ "$rst" = "$4" ]; then
        rm -f "$_r"
        unlock
        reply "r $1 ok"
    else
        unlock
        reply "r $1 other"
    fi
}

# tail ID PATH BYTES: the last bytes of a log, in hex (at most 1500: the answer stays one
# short line).
op_tail() {
    dec "$2"
    if [ -f "$v" ] && ! [ -h "$v" ] && digits "$3" && [ "$3" -le 1500 ]; then
        reply "r $1 ok $(tail -c "$3" "$v" | od -An -v -tx1 | tr -d ' \n')"
    else
        reply "r $1 ok"
    fi
}

# sha256 ID PATH: the SHA-256 of a file here (`none`: no such file; `nosum`: no sha256sum).
op_sha256() {
    dec "$2"
    if ! [ -f "$v" ]; then
        reply "r $1 none"
        return
    fi
    if ! command -v sha256sum >/dev/null 2>&1; then
        reply "r $1 nosum"
        return
    fi
    if _h=$(sha256sum <"$v"); then
        reply "r $1 ok ${_h%% *}"
    else
        reply "r $1 none"
    fi
}

# list ID PREFIX: the file names (daemon keys made safe) of the records here that begin with
# PREFIX, as many as fit in one answer (about 3500 bytes), and `+more` if some did not.
op_list() {
    dec "$2"
    _pre=$v
    _out=
    _more=
    for _f in "$dir"/daemons/*.record; do
        [ -f "$_f" ] || continue
        _b=${_f##*/}
        case $_b in
        "$_pre"*) ;;
        *) continue ;;
        esac
        if [ "${#_out}" -gt 3500 ]; then
            _more=' +more'
            break
        fi
        _out="$_out ${_b%.record}"
    done
    reply "r $1 ok$_more$_out"
}

# hello ID DIR: checks the tools, makes the state directory (this user's, not writable by
# others, no links; `{machine}` in it is this machine's id, for homes shared by hosts), and
# sets dir and boot. Answers only when something is wrong (false then).
op_hello() {
    dec "$2"
    dir=$v
    case $dir in
    '~/'*) dir=$HOME/${dir#'~/'} ;;
    esac
    case $dir in
    *'{machine}'*)
        if ! read -r _m </etc/machine-id 2>/dev/null || [ -z "$_m" ]; then
            read -r _m </proc/sys/kernel/hostname
        fi
        dir=${dir%%"{machine}"*}$_m${dir#*"{machine}"}
        ;;
    esac
    if ! read -r boot </proc/sys/kernel/random/boot_id; then
        say "r $1 err noproc"
        return 1
    fi
    for _t in flock mkfifo setsid env printenv od; do
        if ! command -v "$_t" >/dev/null 2>&1; then
            say "r $1 err no-$_t"
            return 1
        fi
    done
    if ! setsid -f true >/dev/null 2>&1; then
        say "r $1 err nosetsid-f"
        return 1
    fi
    # Daemons get the session's umask back; the helper's files are private.
    LIFECYCLE_HELPER_UMASK=$(umask)
    export LIFECYCLE_HELPER_UMASK
    umask 077
    for _d in "$dir" "$dir/daemons" "$dir/locks" "$dir/logs" "$dir/run"; do
        if [ -h "$_d" ] || ! mkdir -p "$_d" 2>/dev/null || ! [ -O "$_d" ]; then
            say "r $1 err statedir"
            return 1
        fi
        case $(ls -ld "$_d") in
        ?????w* | ????????w*)
            say "r $1 err statedir"
            return 1
            ;;
        esac
    done
}

# The loop's end, however it comes: the daemons of a manager that stops what it starts are
# killed (those still the processes listed), and the session is let go.
finish() {
    trap - EXIT HUP INT TERM PIPE
    IFS=' '
    # Under the lock the wrappers take to list themselves: after it, none will.
    { command exec 8<"$dir/run"; } 2>/dev/null && flock 8
    rm -f "$fifo"
    if [ -f "$owned" ]; then
        while IFS=' ' read -r _p _t; do
            if digits "$_p" "$_t" && alive "$_p" "$_t"; then
                sendsig "$_p" KILL "$_t"
            fi
        done <"$owned"
    fi
    rm -f "$owned" "$dir/run/start.$_nonce".* "$dir/run/lock.$_nonce"
    exec 5>&- 1>/dev/null 8<&-
}

# What helpers that died without `finish` (killed) left: each holds the lock `run/lock.NONCE`
# while it lives, so a free one is of a dead helper. Its listed daemons are killed (those still
# the processes listed), its files removed.
sweep_dead_helpers() {
    for _l in "$dir"/run/lock.*; do
        [ -f "$_l" ] || continue
        _n=${_l##*/lock.}
        { command exec 6<"$_l"; } 2>/dev/null || continue
        if flock -n 6; then
            if [ -f "$dir/run/owned.$_n" ]; then
                while IFS=' ' read -r _p _t; do
                    if digits "$_p" "$_t" && alive "$_p" "$_t"; then
                        sendsig "$_p" KILL "$_t"
                    fi
                done <"$dir/run/owned.$_n"
            fi
            rm -f "$dir/run/out.$_n" "$dir/run/owned.$_n" "$dir/run/start.$_n".* "$_l"
        fi
        exec 6<&-
    done
}

main() {
    dir=
    boot=
    # The first request is the hello, answered on stdout itself: it names the state directory,
    # where the FIFO goes.
    IFS= read -r line || exit 0
    set -f
    # shellcheck disable=SC2086
    set -- $line
    set +f
    if [ "${2-}" != hello ]; then
        say "r ${1-0} err hello"
        exit 0
    fi
    _hello=$1
    op_hello "$1" "${3-=}" || exit 0
    _nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    fifo=$dir/run/out.$_nonce
    owned=$dir/run/owned.$_nonce
    # This helper's lock, held while it lives (fd 7, which nothing it starts keeps).
    if ! { command exec 7>"$dir/run/lock.$_nonce"; } 2>/dev/null || ! flock -n 7; then
        say "r $_hello err fifo"
        exit 0
    fi
    sweep_dead_helpers
    if ! mkfifo -m 600 "$fifo"; then
        say "r $_hello err fifo"
        exit 0
    fi
    # However the loop ends (the session's end, a signal, a write to a session that went), it
    # cleans up. Caught, not ignored: what it starts gets default dispositions.
    trap finish EXIT
    trap 'exit 0' HUP INT TERM PIPE
    say "r $_hello ok $boot $(id -u) $dir"
    # The relay: the only writer of the session's output from now on. If the session's output
    # goes, the loop is told (and ends), and what is still written is drained, not blocked on.
    {
        cat "$fifo"
        # Not after `finish`, which removed the FIFO first.
        [ -p "$fifo" ] && kill -HUP $$
        exec cat "$fifo" >/dev/null 2>&1
    } 7>&- &
    exec 5>"$fifo" 1>&5
    while IFS= read -r line; do
        set -f
        # shellcheck disable=SC2086
        set -- $line
        set +f
        [ $# -ge 2 ] && digits "$1" || continue
        _id=$1 _op=$2
        shift 2
        case $_op in
        ping) reply "r $_id ok" ;;
        start)
            # The fields go to the keeper in a file of this user's (umask 077).
            _req=$dir/run/start.$_nonce.$_id
            if ! printf '%s\n' "$*" >"$_req"; then
                reply "r $_id err spawn"
                continue
            fi
            setsid -f sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle keeper \
                "$dir" "$fifo" "$owned" "$_id" "$_req" </dev/null >/dev/null 2>&1 5>&- 7>&- ||
                {
                    rm -f "$_req"
                    reply "r $_id err spawn"
                }
            ;;
        status) op_status "$_id" "$@" ;;
        state) op_state "$_id" "$@" ;;
        alive) if digits "$1" "$2" && alive "$1" "$2"; then reply "r $_id yes"; else reply "r $_id no"; fi ;;
        watch) (
            exec </dev/null >/dev/null 2>&1 5>&- 7>&-
            digits "$1" "$2" && op_watch "$_id" "$1" "$2"
        ) & ;;
        put) (
            exec </dev/null >/dev/null 2>&1 5>&- 7>&-
            op_put "$_id" "$@"
        ) & ;;
        remove) (
            exec </dev/null >/dev/null 2>&1 5>&- 7>&-
            op_remove "$_id" "$@"
        ) & ;;
        stop) (
            exec </dev/null >/dev/null 2>&1 5>&- 7>&-
            op_stop "$_id" "$@"
        ) & ;;
        tail) (
            exec </dev/null >/dev/null 2>&1 5>&- 7>&-
            op_tail "$_id" "$@"
        ) & ;;
        list) op_list "$_id" "$@" ;;
        sha256) (
            exec </dev/null >/dev/null 2>&1 5>&- 7>&-
            op_sha256 "$_id" "$@"
        ) & ;;
        *) reply "r $_id err unknown" ;;
        esac
    done
}

case ${1-} in
keeper)
    shift
    keeper "$@"
    ;;
wrapper)
    shift
    wrapper "$@"
    ;;
*) main ;;
esac
