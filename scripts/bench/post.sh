#!/usr/bin/env bash
# `bus post` as a process, against minimal C and Rust programs that do open + flock +
# write + close, and against `flock FILE sh -c 'printf ... >> FILE'`. Uses hyperfine
# (-N: no shell in between) when installed, else a timed loop of N calls.
#   scripts/bench/post.sh [N]
source "$(dirname "$0")/common.sh"
N="${1:-1000}"
BUS="$WORK/bus.md"
rustc -O -o "$WORK/floor-rs" "$REPO/scripts/bench/floor.rs"
SHELL_CMD="flock $BUS sh -c \"printf -- '---\\ntype: INFO\\n---\\nhello\\n' >> $BUS\""
declare -A us
if command -v hyperfine > /dev/null; then
    hyperfine -N --warmup 100 -r "$N" --export-json "$WORK/h.json" \
        -n c "$FLOOR post $BUS" \
        -n rust "$WORK/floor-rs $BUS" \
        -n ours "$BIN bus post --bus $BUS --type INFO --body hello" \
        -n shell "$SHELL_CMD" > /dev/null
    while read -r name mean; do us[$name]=$mean; done < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], int(r["mean"] * 1e6))' "$WORK/h.json")
    how="hyperfine -N, mean of $N runs"
else
    per_call() {
        local t0 t1
        t0=$(now)
        for ((i = 0; i < N; i++)); do "$@" > /dev/null; done
        t1=$(now)
        echo $(( (t1 - t0) / N / 1000 ))
    }
    us[c]=$(per_call "$FLOOR" post "$BUS")
    us[rust]=$(per_call "$WORK/floor-rs" "$BUS")
    us[ours]=$(per_call "$BIN" bus post --bus "$BUS" --type INFO --body hello)
    us[shell]=$(per_call sh -c "$SHELL_CMD")
    how="timed shell loop of $N calls (fork+exec of the loop included)"
fi
machine
echo "bus post as a process ($how), microseconds per call:"
echo "  C floor (open+flock+write+close):    ${us[c]}"
echo "  Rust floor (same):                   ${us[rust]}"
echo "  run-agent bus post:                  ${us[ours]}   $(ratio "${us[ours]}" "${us[c]}")x the C floor, $(ratio "${us[ours]}" "${us[rust]}")x the Rust floor (target <= 1.5)"
echo "  flock FILE sh -c 'printf >> FILE':    ${us[shell]}   run-agent is $(ratio "${us[shell]}" "${us[ours]}")x faster (target > 1)"
