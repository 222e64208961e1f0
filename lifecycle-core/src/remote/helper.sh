# The remote helper of lifecycle: one per manager and host, started once over the host's SSH
# connection, it reads requests on stdin and answers on stdout, so that an operation costs one
# round trip instead of a remote login shell. POSIX sh on Linux, plus setsid(1) with `-f`,
# flock(1), mkfifo(1) and a `sleep` that takes fractions (util-linux and coreutils; busybox's
# setsid has no `-f` and is refused at hello).
#
# Requests are one line each: `ID OP FIELD...`. Numbers are plain digits; every other field is
# `=` followed by its value with each byte outside [A-Za-z0-9_./@:+,=-] written as a backslash
# and three octal digits, so no field holds a space, a newline, a quote or any other byte a shell
# reads as syntax, and no value ever becomes code: values are decoded into variables by printf
# and used only quoted.
#
# Answers are one line each: `r ID WORD...`; `x ID STATUS` tells that the daemon started by
# request ID exited; `g ID` that a grace of stop ID ran out. Record texts travel with their
# lines joined by carriage returns (a record line never holds one). Only the main loop writes
# to stdout: the processes a start leaves behind (keepers) and the stops running beside the
# loop hand their lines to it through a FIFO (`o LINE`, one short write each), which also
# carries the requests (copied from stdin by a `cat`). So nothing but the loop holds the
# session's output: when the manager goes (its end of stdin closes), the loop ends, the session
# with it, and the loop kills the daemons it was asked to (`start` with KILL 1: a manager that
# stops what it started when it goes).
#
# The text is in $LIFECYCLE_HELPER_SRC (exported to the helper's own processes, never to a
# daemon). Invoked as `sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle MODE ARGS...`: MODE
# `keeper` and `wrapper` are the processes a start leaves behind (see `keeper`).

CR=$(printf '\r')

say() {
    printf '%s\n' "$*"
}

# Hands line $2 to the main loop through FIFO $1 (opened read-write: never blocks, even when
# the loop is gone; and nothing is written once the loop removed it).
tell() {
    [ -p "$1" ] && printf 'o %s\n' "$2" 1<>"$1"
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
    set -f
    # shellcheck disable=SC2086
    set -- $_s
    set +f
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

# Signals $2 (a name) to group $1 (to process $1 alone in the instant before it made its
# group). `kill -NAME -PGID` is the form dash, bash and busybox all take.
sendsig() {
    kill -"$2" -"$1" 2>/dev/null || kill -"$2" "$1" 2>/dev/null
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

# stop FIFO ID PID START CONFIRM_MS [SIGNAL|wait GRACE_MS]...: the stop chain, inside this
# host, beside the main loop.
op_stop() {
    _f=$1 _id=$2 pid=$3 want=$4 confirm=$5
    shift 5
    if ! digits "$pid" "$want" "$confirm"; then
        tell "$_f" "r $_id err args"
        return
    fi
    for _s; do
        case $_s in
        HUP | INT | QUIT | TERM | USR1 | USR2 | wait | [0-9]*) ;;
        *)
            tell "$_f" "r $_id err args"
            return
            ;;
        esac
    done
    if starttime "$pid"; then
        if [ "$st" != "$want" ]; then
            # Someone else holds the PID now: nothing of ours can be told apart.
            tell "$_f" "r $_id notours"
            return
        fi
    elif ! group_left "$pid"; then
        tell "$_f" "r $_id gone 0"
        return
    fi
    while [ $# -ge 2 ]; do
        digits "$2" || break
        if [ "$1" != wait ]; then
            sendsig "$pid" "$1"
            sendsig "$pid" CONT
        fi
        if waitgone "$pid" $(($2 / 10)) "$want"; then
            tell "$_f" "r $_id gone 0"
            return
        fi
        tell "$_f" "g $_id"
        shift 2
    done
    sendsig "$pid" KILL
    if waitgone "$pid" $((confirm / 10)) "$want"; then
        tell "$_f" "r $_id gone 1"
    else
        tell "$_f" "r $_id alive"
    fi
}

# watch FIFO ID PID START: tells `x ID -1` once the process is gone (for a daemon this helper
# did not start, whose exit no keeper reports): a check a second.
op_watch() {
    while alive "$3" "$4" && [ -p "$1" ]; do
        sleep 1
    done
    tell "$1" "x $2 -1"
}

# The process a start leaves behind, in a session of its own, its output nowhere: runs the
# wrapper in the foreground (so that the daemon keeps default signal dispositions), then tells
# its exit. Fields: DIR FIFO ID NAME KILL TEMPLATE LOG BINARY INHERIT NKEEP KEEP... NENV
# ENV... ARG...
keeper() {
    sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle wrapper "$@"
    tell "$2" "x $3 $?"
}

# Becomes the daemon: checks its binary and log, then under the daemon's lock refuses when its
# record names a live process, writes its record (the manager's template with this process's
# identity), answers with PID and start time, and execs the binary through setsid and env(1)
# (the environment the spec gives) with its output appended to the log.
wrapper() {
    dir=$1 fifo=$2 id=$3
    dec "$4"
    name=$v
    dec "$6"
    tmpl=$v
    dec "$7"
    log=$v
    dec "$8"
    bin=$v
    inherit=$9
    shift 9
    fail() {
        tell "$fifo" "r $id err $1"
        exit 0
    }
    digits "$1" || fail args
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
    # The command line, decoded: env(1), its options, the variables, the binary, the arguments.
    _n=$#
    set -- "$@" env
    [ "$inherit" = all ] || set -- "$@" -i
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
        shift
        _n=$((_n - 1))
        _k=$((_k - 1))
        set -- "$@" "$v"
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
            tell "$fifo" "r $id exists $live $text"
            exit 0
        fi
        rm -f "$rec"
    fi
    starttime $$
    me=$st
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
    tell "$fifo" "r $id ok $$ $me $boot"
    unset LIFECYCLE_HELPER_SRC
    exec </dev/null >>"$log" 2>&1
    exec setsid "$@"
}

# status ID NAME: the record and whether it names a live process.
op_status() {
    dec "$2"
    if readrec "$dir/daemons/$v.record"; then
        liveness
        say "r $1 rec $live $text"
    else
        say "r $1 none"
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
        say "r $1 st $live $_st $rpid $rst"
    else
        say "r $1 none"
    fi
}

# put ID NAME GENERATION TEXT: replaces the record if its generation is GENERATION (0: if
# there is none).
op_put() {
    dec "$2"
    _k=$v
    _r=$dir/daemons/$_k.record
    if ! digits "$3" || ! lock "$_k"; then
        say "r $1 err lock"
        return
    fi
    readrec "$_r" || rgen=0
    if [ "$rgen" != "$3" ]; then
        unlock
        say "r $1 conflict $rgen"
        return
    fi
    dec "$4"
    if printf '%s' "$v" >"$_r.new" && mv -f "$_r.new" "$_r"; then
        unlock
        say "r $1 ok"
    else
        rm -f "$_r.new"
        unlock
        say "r $1 err record"
    fi
}

# remove ID NAME PID START: removes the record if it still names that process.
op_remove() {
    dec "$2"
    _k=$v
    _r=$dir/daemons/$_k.record
    if ! lock "$_k"; then
        say "r $1 err lock"
        return
    fi
    if readrec "$_r" && [ "$rpid" = "$3" ] && [ "$rst" = "$4" ]; then
        rm -f "$_r"
        unlock
        say "r $1 ok"
    else
        unlock
        say "r $1 other"
    fi
}

# tail ID PATH BYTES: the last bytes of a log, in hex.
op_tail() {
    dec "$2"
    if [ -f "$v" ] && ! [ -h "$v" ] && digits "$3"; then
        say "r $1 ok $(tail -c "$3" "$v" | od -An -v -tx1 | tr -d ' \n')"
    else
        say "r $1 ok"
    fi
}

# sha256 ID PATH: the SHA-256 of a file here (`none`: no such file; `nosum`: no sha256sum).
op_sha256() {
    dec "$2"
    if ! [ -f "$v" ]; then
        say "r $1 none"
        return
    fi
    if ! command -v sha256sum >/dev/null 2>&1; then
        say "r $1 nosum"
        return
    fi
    if _h=$(sha256sum <"$v"); then
        say "r $1 ok ${_h%% *}"
    else
        say "r $1 none"
    fi
}

# list ID: the file names (daemon keys made safe) of the records here.
op_list() {
    _out=
    for _f in "$dir"/daemons/*.record; do
        [ -f "$_f" ] || continue
        _b=${_f##*/}
        _out="$_out ${_b%.record}"
    done
    say "r $1 ok$_out"
}

# hello ID DIR: checks the tools, makes the state directory (this user's, not writable by
# others, no links), answers with the boot id, the user id and the directory.
op_hello() {
    dec "$2"
    dir=$v
    case $dir in
    '~/'*) dir=$HOME/${dir#'~/'} ;;
    esac
    if ! read -r boot </proc/sys/kernel/random/boot_id; then
        say "r $1 err noproc"
        return 1
    fi
    for _t in flock mkfifo setsid env printenv; do
        if ! command -v "$_t" >/dev/null 2>&1; then
            say "r $1 err no-$_t"
            return 1
        fi
    done
    if ! setsid -f true >/dev/null 2>&1; then
        say "r $1 err nosetsid-f"
        return 1
    fi
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
    say "r $1 ok $boot $(id -u) $dir"
}

main() {
    dir=
    boot=
    # The first request is the hello, read from stdin itself: it names the state directory,
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
    op_hello "$1" "${3-=}" || exit 0
    fifo=$dir/run/helper.$$
    rm -f "$fifo"
    mkfifo -m 600 "$fifo" || exit 0
    exec 4<&0
    cat <&4 >"$fifo" &
    exec 3<"$fifo" 4<&- 0</dev/null
    owned_ids=' '
    owned=
    while IFS= read -r line <&3; do
        case $line in
        'o '*)
            line=${line#o }
            say "$line"
            # A daemon started for a manager that stops what it starts: killed at the end.
            case $line in
            'r '*' ok '*)
                set -f
                # shellcheck disable=SC2086
                set -- $line
                set +f
                case $owned_ids in
                *" $2 "*) owned="$owned $4:$5" ;;
                esac
                ;;
            esac
            continue
            ;;
        esac
        set -f
        # shellcheck disable=SC2086
        set -- $line
        set +f
        [ $# -ge 2 ] && digits "$1" || continue
        _id=$1 _op=$2
        shift 2
        case $_op in
        ping) say "r $_id ok" ;;
        start)
            [ "${2-}" = 1 ] && owned_ids="$owned_ids$_id "
            setsid -f sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle keeper "$dir" "$fifo" "$_id" "$@" \
                </dev/null >/dev/null 2>&1
            ;;
        status) op_status "$_id" "$@" ;;
        state) op_state "$_id" "$@" ;;
        alive) if digits "$1" "$2" && alive "$1" "$2"; then say "r $_id yes"; else say "r $_id no"; fi ;;
        watch) digits "$1" "$2" && op_watch "$fifo" "$_id" "$1" "$2" </dev/null >/dev/null 2>&1 & ;;
        put) op_put "$_id" "$@" ;;
        remove) op_remove "$_id" "$@" ;;
        stop) op_stop "$fifo" "$_id" "$@" </dev/null >/dev/null 2>&1 & ;;
        tail) op_tail "$_id" "$@" ;;
        list) op_list "$_id" ;;
        sha256) op_sha256 "$_id" "$@" ;;
        *) say "r $_id err unknown" ;;
        esac
    done
    # The manager is gone.
    for _o in $owned; do
        if alive "${_o%%:*}" "${_o#*:}"; then
            sendsig "${_o%%:*}" KILL
        fi
    done
    rm -f "$fifo"
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
