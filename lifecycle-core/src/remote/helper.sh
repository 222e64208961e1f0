# The remote helper of lifecycle: one per manager and host, started once over the host's SSH
# connection, it reads requests on stdin and answers on stdout, so that an operation costs one
# round trip instead of a remote login shell. POSIX sh, plus /proc, setsid(1) and a `sleep` that
# takes fractions (Linux: util-linux, coreutils or busybox).
#
# Requests are one line each: `ID OP FIELD...`. Numbers are plain digits; every other field is
# `=` followed by its value with each byte outside [A-Za-z0-9_./-] written as a backslash and
# three octal digits, so no field holds a space, a newline, a quote or any other byte a shell
# reads as syntax, and no value ever becomes code: values are decoded into variables by printf
# and used only quoted.
#
# Answers are one line each, written with one printf (one write, atomic on the channel's pipe):
# `r ID WORD...`. Record texts travel with their lines joined by carriage returns (a record
# line never holds one). `x ID STATUS` tells that the daemon started by request ID exited.
#
# The text is in $LIFECYCLE_HELPER_SRC (exported; never in a daemon's environment). Invoked as
# `sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle MODE ARGS...`: MODE `keeper` and `wrapper` are
# the processes a start leaves behind (see `keeper`); none is the main loop.

LC_ALL=C
export LC_ALL
CR=$(printf '\r')

say() {
    printf '%s\n' "$*"
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

# Takes lock directory $1 for this shell: up to five seconds; a lock whose holder is gone is
# broken.
lock() {
    starttime $$
    _me="$$ $st"
    _n=500
    until mkdir "$1" 2>/dev/null; do
        if IFS=' ' read -r _p _t <"$1/owner" 2>/dev/null && ! alive "$_p" "$_t"; then
            rm -f "$1/owner"
            rmdir "$1" 2>/dev/null
            continue
        fi
        _n=$((_n - 1))
        [ "$_n" -gt 0 ] || return 1
        sleep 0.01
    done
    say "$_me" >"$1/owner"
}

unlock() {
    rm -f "$1/owner"
    rmdir "$1"
}

# Reads record $1 into text (lines joined by CR), rpid, rst, rboot, rgen; false if none.
readrec() {
    text=
    rpid=
    rst=
    rboot=
    rgen=
    [ -f "$1" ] || return 1
    while IFS= read -r _l; do
        case $_l in
        pid=*) rpid=${_l#*=} ;;
        start_time=*) rst=${_l#*=} ;;
        boot_id=*) rboot=${_l#*=} ;;
        generation=*) rgen=${_l#*=} ;;
        esac
        text=$text$_l$CR
    done <"$1"
    [ -n "$rpid" ]
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

# Whether every argument is a decimal number (what arithmetic and kill may see).
digits() {
    for _d; do
        case $_d in
        '' | *[!0-9]*) return 1 ;;
        esac
    done
}

# Signals $2 to group $1 (to process $1 alone in the instant before it made its group).
sendsig() {
    kill -s "$2" -- "-$1" 2>/dev/null || kill -s "$2" "$1" 2>/dev/null
}

# Whether anything of group $1 is left.
group_left() {
    kill -0 -- "-$1" 2>/dev/null
}

# Waits up to $2 polls of 10 ms for group $1 (led by $1 with start time $3) to be gone; the
# first checks come without a pause (a process that dies on its signal is gone within them).
waitgone() {
    _n=$2
    _quick=100
    while group_left "$1" || alive "$1" "$3"; do
        if [ "$_quick" -gt 0 ]; then
            _quick=$((_quick - 1))
            continue
        fi
        [ "$_n" -gt 0 ] || return 1
        _n=$((_n - 1))
        sleep 0.01
    done
}

# stop ID PID START CONFIRM_MS [SIGNAL|wait GRACE_MS]...: the stop chain, inside this host.
op_stop() {
    _id=$1 pid=$2 want=$3 confirm=$4
    shift 4
    if ! digits "$pid" "$want" "$confirm"; then
        say "r $_id err args"
        return
    fi
    for _s; do
        case $_s in
        HUP | INT | QUIT | TERM | USR1 | USR2 | wait | [0-9]*) ;;
        *)
            say "r $_id err args"
            return
            ;;
        esac
    done
    if starttime "$pid"; then
        if [ "$st" != "$want" ]; then
            # Someone else holds the PID now: nothing of ours can be told apart.
            say "r $_id notours"
            return
        fi
    elif ! group_left "$pid"; then
        say "r $_id gone 0"
        return
    fi
    while [ $# -ge 2 ]; do
        digits "$2" || break
        if [ "$1" != wait ]; then
            sendsig "$pid" "$1"
            sendsig "$pid" CONT
        fi
        if waitgone "$pid" $(($2 / 10)) "$want"; then
            say "r $_id gone 0"
            return
        fi
        say "g $_id"
        shift 2
    done
    sendsig "$pid" KILL
    if waitgone "$pid" $((confirm / 10)) "$want"; then
        say "r $_id gone 1"
    else
        say "r $_id alive"
    fi
}

# The process a start leaves behind, in a session of its own: runs the wrapper in the
# foreground (so that the daemon keeps default signal dispositions), then tells its exit.
keeper() {
    _id=$2
    # What a shell says of its killed child ("Terminated") is no message of ours.
    exec 2>/dev/null
    sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle wrapper "$@"
    say "x $_id $?"
}

# Becomes the daemon: under the daemon's lock, refuses when its record names a live process,
# writes its record (the manager's template with this process's identity), answers with PID
# and start time, then execs the binary in a new session with its output to the log.
# Fields: DIR ID NAME TEMPLATE LOG BINARY NENV ENV... ARG...
wrapper() {
    dir=$1 id=$2
    dec "$3"
    name=$v
    dec "$4"
    tmpl=$v
    dec "$5"
    log=$v
    dec "$6"
    bin=$v
    nenv=$7
    shift 7
    read -r boot </proc/sys/kernel/random/boot_id
    rec=$dir/daemons/$name.record
    lk=$dir/locks/$name
    if ! lock "$lk"; then
        say "r $id err lock"
        exit 0
    fi
    if readrec "$rec"; then
        liveness
        if [ "$live" = live ]; then
            unlock "$lk"
            say "r $id exists $live $text"
            exit 0
        fi
        rm -f "$rec"
    fi
    if ! command -v "$bin" >/dev/null 2>&1; then
        unlock "$lk"
        say "r $id err nobinary"
        exit 0
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
        unlock "$lk"
        say "r $id err record"
        exit 0
    fi
    unlock "$lk"
    while [ "$nenv" -gt 0 ]; do
        dec "$1"
        export "$v"
        shift
        nenv=$((nenv - 1))
    done
    _n=$#
    for _f; do
        dec "$_f"
        set -- "$@" "$v"
    done
    shift "$_n"
    if ! : >>"$log"; then
        say "r $id err log"
        rm -f "$rec"
        exit 0
    fi
    say "r $id ok $$ $me $boot"
    unset LIFECYCLE_HELPER_SRC
    exec </dev/null >>"$log" 2>&1
    exec setsid "$bin" "$@"
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

# put ID NAME GENERATION TEXT: replaces the record if its generation is GENERATION (0: if
# there is none).
op_put() {
    dec "$2"
    _k=$v
    _r=$dir/daemons/$_k.record
    if ! lock "$dir/locks/$_k"; then
        say "r $1 err lock"
        return
    fi
    readrec "$_r" || rgen=0
    if [ "$rgen" != "$3" ]; then
        unlock "$dir/locks/$_k"
        say "r $1 conflict $rgen"
        return
    fi
    dec "$4"
    if printf '%s' "$v" >"$_r.new" && mv -f "$_r.new" "$_r"; then
        unlock "$dir/locks/$_k"
        say "r $1 ok"
    else
        unlock "$dir/locks/$_k"
        say "r $1 err record"
    fi
}

# remove ID NAME PID START: removes the record if it still names that process.
op_remove() {
    dec "$2"
    _k=$v
    _r=$dir/daemons/$_k.record
    if ! lock "$dir/locks/$_k"; then
        say "r $1 err lock"
        return
    fi
    if readrec "$_r" && [ "$rpid" = "$3" ] && [ "$rst" = "$4" ]; then
        rm -f "$_r"
        unlock "$dir/locks/$_k"
        say "r $1 ok"
    else
        unlock "$dir/locks/$_k"
        say "r $1 other"
    fi
}

# tail ID PATH BYTES: the last bytes of a log, in hex.
op_tail() {
    dec "$2"
    if [ -f "$v" ]; then
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

# hello ID DIR: makes the state directory, answers with the boot id and the user id.
op_hello() {
    dec "$2"
    dir=$v
    case $dir in
    '~/'*) dir=$HOME/${dir#'~/'} ;;
    esac
    read -r boot </proc/sys/kernel/random/boot_id || {
        say "r $1 err noproc"
        return
    }
    command -v setsid >/dev/null 2>&1 || {
        say "r $1 err nosetsid"
        return
    }
    umask 077
    for _d in "$dir" "$dir/daemons" "$dir/locks" "$dir/logs"; do
        if [ -h "$_d" ] || ! mkdir -p "$_d" || ! [ -O "$_d" ]; then
            say "r $1 err statedir"
            return
        fi
    done
    say "r $1 ok $boot $(id -u) $dir"
}

main() {
    dir=
    boot=
    while IFS= read -r line; do
        set -f
        # shellcheck disable=SC2086
        set -- $line
        set +f
        [ $# -ge 2 ] || continue
        _id=$1 _op=$2
        shift 2
        case $_op in
        hello) op_hello "$_id" "$@" ;;
        ping) say "r $_id ok" ;;
        start) setsid -f sh -c 'eval "$LIFECYCLE_HELPER_SRC"' lifecycle keeper "$dir" "$_id" "$@" ;;
        status) op_status "$_id" "$@" ;;
        alive) if alive "$1" "$2"; then say "r $_id yes"; else say "r $_id no"; fi ;;
        put) op_put "$_id" "$@" ;;
        remove) op_remove "$_id" "$@" ;;
        stop) op_stop "$_id" "$@" & ;;
        tail) op_tail "$_id" "$@" ;;
        list) op_list "$_id" ;;
        sha256) op_sha256 "$_id" "$@" ;;
        *) say "r $_id err unknown" ;;
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
