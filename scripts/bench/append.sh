#!/usr/bin/env bash
# In-process appends from 8 writer processes at once: run-agent's appender (one open
# bus, locked append of an encoded record per message) against a raw C loop of
# flock + write + unlock with records of the same size.
#   scripts/bench/append.sh [MESSAGES_PER_WRITER] [WRITERS]
source "$(dirname "$0")/common.sh"
N="${1:-50000}"
W="${2:-8}"
# Our records with a 40-byte body are about 300 bytes; the floor writes the same size.
probe="$WORK/probe.md"
"$BIN" bus stress --bus "$probe" --count 1 --min-size 40 --max-size 40 > /dev/null
SIZE=$(stat -c %s "$probe")
run() { # label, then the writer command with WRITER substituted
    local t0 t1
    rm -f "$WORK/bus.md"
    t0=$(now)
    for ((w = 0; w < W; w++)); do "$@" "$w" > /dev/null & done
    wait
    t1=$(now)
    awk -v n=$((N * W)) -v ns=$((t1 - t0)) 'BEGIN { printf "%d", n / (ns / 1e9) }'
}
floor_writer() { "$FLOOR" loop "$WORK/bus.md" "$N" "$SIZE"; }
ours_writer() { "$BIN" bus stress --bus "$WORK/bus.md" --count "$N" --min-size 40 --max-size 40 --writer "$1"; }
floor=$(run floor_writer)
ours=$(run ours_writer)
lines=$("$BIN" bus read --bus "$WORK/bus.md" --tail 0 --json | wc -l)
machine
echo "in-process appends, $W writer processes x $N messages of $SIZE bytes:"
echo "  C floor (flock+write+unlock loop): $floor messages/s"
echo "  run-agent appender:                $ours messages/s   $(ratio "$ours" "$floor") of the floor (target >= 0.50)"
echo "  read back: $lines messages (expected $((N * W)))"
