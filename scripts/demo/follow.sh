#!/bin/sh
# follow.sh PROJECT_DIR: a plain-shell stand-in for `run-agent watch`, for builds that do
# not have it. Every 0.2 s it prints the new complete lines of every run's
# agent-stdout.txt and agent-stderr.txt under PROJECT_DIR (runs that start later
# included), each prefixed with its task and run, and the new records of every task bus
# in one line each. On SIGTERM it prints what is left and exits.
#
# One process (plus short-lived sed/awk): stopping it by its pid leaves nothing behind,
# which a `tail -F ... | sed ...` per file would not.
set -u
dir=$1
stop=
trap 'stop=1' TERM INT
n=0

label() {
    # <project>/<task>/runs/<run_id>/agent-stdout.txt -> "task pid-seq out"
    case $1 in
    */TASK-MESSAGE-BUS.md)
        t=${1%/TASK-MESSAGE-BUS.md}
        printf '%s bus' "${t##*/}"
        ;;
    *)
        r=${1%/*}
        t=${r%/runs/*}
        run=${r##*/}
        kind=out
        case $1 in *stderr.txt) kind=err ;; esac
        printf '%s %s %s' "${t##*/}" "$(echo "$run" | cut -d- -f3-)" "$kind"
        ;;
    esac
}

show() { # FILE FROM TO LABEL
    case $1 in
    */TASK-MESSAGE-BUS.md)
        # One line per record: its type and the first line of its body.
        sed -n "$2,$3p" "$1" | awk -v l="$4" '
            /^---$/ { n++; if (n % 2 == 1) { type = ""; first = 1 } ; next }
            n % 2 == 1 && /^type:/ { type = $2; next }
            n % 2 == 0 && first { printf "  [%s] %s: %s\n", l, type, $0; first = 0 }'
        ;;
    *)
        # Claude stream-json events are shown by their text, other lines as they are.
        sed -n "$2,$3p" "$1" | sed \
            -e 's/^{"type":"system","subtype":"\([a-z_]*\)".*/(system: \1)/' \
            -e 's/^{"type":"assistant".*"text":"\([^"]*\)".*/assistant: \1/' \
            -e 's/^{"type":"result".*"result":"\([^"]*\)".*/result: \1/' |
            cut -c1-160 | sed "s|^|  [$4] |"
        ;;
    esac
}

while :; do
    for f in "$dir"/*/TASK-MESSAGE-BUS.md "$dir"/*/runs/*/agent-stdout.txt "$dir"/*/runs/*/agent-stderr.txt; do
        [ -f "$f" ] || continue
        i=0
        known=
        while [ "$i" -lt "$n" ]; do
            i=$((i + 1))
            eval "g=\$file_$i"
            if [ "$g" = "$f" ]; then known=1; break; fi
        done
        if [ -z "$known" ]; then
            n=$((n + 1))
            eval "file_$n=\$f; seen_$n=0"
        fi
    done
    i=0
    while [ "$i" -lt "$n" ]; do
        i=$((i + 1))
        eval "f=\$file_$i; seen=\$seen_$i"
        total=$(wc -l < "$f" | tr -d ' ')
        if [ "$total" -gt "$seen" ]; then
            show "$f" $((seen + 1)) "$total" "$(label "$f")"
            eval "seen_$i=$total"
        fi
    done
    [ -n "$stop" ] && exit 0
    sleep 0.2
done
