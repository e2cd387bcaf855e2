#!/usr/bin/env bash
# Acceptance 3 with the issue's numbers, release build: 16 writer processes x 2000
# appends, bodies 1 B - 64 KiB; checks 0 lost, 0 duplicated, 0 torn, order kept.
# (tests/bus.rs runs a smaller version on every `cargo test`, and this exact one as
# the ignored test concurrent_writers_issue_numbers.)
#   scripts/bench/stress.sh [WRITERS] [COUNT]
source "$(dirname "$0")/common.sh"
W="${1:-16}"
N="${2:-2000}"
BUS="$WORK/bus.md"
t0=$(now)
for ((w = 0; w < W; w++)); do
    "$BIN" bus stress --bus "$BUS" --writer "$w" --count "$N" --min-size 1 --max-size 65536 > /dev/null &
done
wait
t1=$(now)
"$BIN" bus read --bus "$BUS" --tail 0 --json | python3 -c '
import json, sys
w_count, n = int(sys.argv[1]), int(sys.argv[2])
nxt, torn, total = {}, 0, 0
for line in sys.stdin:
    m = json.loads(line); total += 1
    torn += bool(m.get("torn"))
    head, _, fill = m["body"].partition("\n")
    w, s = (int(x[1:]) for x in head.split(" "))
    letter = chr(ord("a") + (w * 7 + s) % 26)
    assert fill == letter * len(fill), f"w{w} s{s} body mixed"
    assert nxt.get(w, 0) == s, f"writer {w}: expected s{nxt.get(w, 0)}, got s{s}"
    nxt[w] = s + 1
lost = sum(n - nxt.get(w, 0) for w in range(w_count))
print(f"  {total} messages read back: lost {lost}, torn {torn}, each writer in order")
assert lost == 0 and torn == 0 and total == w_count * n
' "$W" "$N"
machine
echo "  $W writers x $N appends: $(( $(stat -c %s "$BUS") / 1024 / 1024 )) MB in $(( (t1 - t0) / 1000000 )) ms"
