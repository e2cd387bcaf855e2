#!/bin/sh
# Ralph-loop overhead: a task whose shell agent does nothing and writes DONE on its 50th
# attempt, with --restart-delay 0s. Prints ms per attempt beside the cost of starting
# `sh` 50 times (the floor: every attempt starts one shell).
#
# Usage: scripts/bench/loop.sh [ATTEMPTS] [REPEATS]   (builds the release binary first)
set -eu
attempts=${1:-50}
repeats=${2:-5}
here=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/run-agent"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Shell builtins only: the agent "does nothing" but count, so no process beyond the shell.
cat > "$work/agent.sh" <<SCRIPT
n=0
[ -f "\$JRUN_TASK_FOLDER/n" ] && read -r n < "\$JRUN_TASK_FOLDER/n"
n=\$((n + 1))
echo \$n > "\$JRUN_TASK_FOLDER/n"
[ \$n -ge $attempts ] && : > "\$JRUN_TASK_FOLDER/DONE"
exit 0
SCRIPT

now_ns() { date +%s%N; }

best_loop=""
best_sh=""
i=0
while [ $i -lt "$repeats" ]; do
  i=$((i + 1))
  root="$work/root$i"
  t0=$(now_ns)
  "$bin" task --root "$root" --project bench --task loop --prompt-file "$work/agent.sh" \
    --restart-delay 0s --max-restarts $((attempts + 1)) > /dev/null
  t1=$(now_ns)
  runs=$(ls "$root/bench/loop/runs" | wc -l)
  [ "$runs" -eq "$attempts" ] || { echo "expected $attempts runs, got $runs" >&2; exit 1; }
  loop_ns=$((t1 - t0))

  t0=$(now_ns)
  j=0
  while [ $j -lt "$attempts" ]; do j=$((j + 1)); sh -c 'true' < /dev/null; done
  t1=$(now_ns)
  sh_ns=$((t1 - t0))

  [ -z "$best_loop" ] || [ "$loop_ns" -lt "$best_loop" ] && best_loop=$loop_ns
  [ -z "$best_sh" ] || [ "$sh_ns" -lt "$best_sh" ] && best_sh=$sh_ns
done

awk -v l="$best_loop" -v s="$best_sh" -v n="$attempts" 'BEGIN {
  printf "run-agent task, %d attempts: %.1f ms total, %.2f ms per attempt (best of runs)\n", n, l/1e6, l/1e6/n
  printf "floor, sh -c true x %d:      %.1f ms total, %.2f ms per start\n", n, s/1e6, s/1e6/n
  printf "ratio: %.1fx the bare shell start; goal <= 5 ms per attempt: %s\n", l/s, (l/1e6/n <= 5 ? "met" : "NOT met")
}'
