#!/usr/bin/env bash
# `bus read --tail 20` on a 200 MB bus against `tail -n 160` on the same file (a record
# is about 8 lines), and its peak memory.
#   scripts/bench/tail.sh [MB]
source "$(dirname "$0")/common.sh"
MB="${1:-200}"
BUS="$WORK/bus.md"
# Bodies of 1 B to 4 KiB; 8 writers so records interleave as in real use.
per=$(( MB * 1024 * 1024 / 720 / 8 ))
for ((w = 0; w < 8; w++)); do
    "$BIN" bus stress --bus "$BUS" --count "$per" --min-size 1 --max-size 4096 --writer "$w" > /dev/null &
done
wait
cat "$BUS" > /dev/null # warm the page cache for both
best() { # runs the command 20 times, prints the best wall time in microseconds
    local b=999999999 t0 t1
    for ((i = 0; i < 20; i++)); do
        t0=$(now); "$@" > /dev/null; t1=$(now)
        (( (t1 - t0) / 1000 < b )) && b=$(( (t1 - t0) / 1000 ))
    done
    echo "$b"
}
floor=$(best tail -n 160 "$BUS")
ours=$(best "$BIN" bus read --bus "$BUS" --tail 20)
ours_json=$(best "$BIN" bus read --bus "$BUS" --tail 20 --json)
rss=$(/usr/bin/time -f %M "$BIN" bus read --bus "$BUS" --tail 20 2>&1 > /dev/null | tail -1)
all_t0=$(now)
all_rss=$(/usr/bin/time -f %M "$BIN" bus read --bus "$BUS" --tail 0 --json 2>&1 > /dev/null | tail -1)
all_t1=$(now)
machine
echo "bus of $(( $(stat -c %s "$BUS") / 1024 / 1024 )) MB:"
echo "  tail -n 160:                 $floor us"
echo "  run-agent bus read --tail 20: $ours us   ratio $(ratio "$ours" "$floor") (target <= 3), peak RSS $((rss / 1024)) MiB (target < 32)"
echo "  same with --json:             $ours_json us   ratio $(ratio "$ours_json" "$floor")"
echo "  whole bus --tail 0 --json:    $(( (all_t1 - all_t0) / 1000000 )) ms, peak RSS $((all_rss / 1024)) MiB"
