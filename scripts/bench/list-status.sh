#!/usr/bin/env bash
# Benchmark of `list --json` and `status --json` over a runs root of 10,000 runs,
# against `find ROOT -name run-info.yaml -exec cat {} +` on the same tree in the same
# run (issue 6: at most 1.5x its time, under 64 MiB).
#
# Usage: scripts/bench/list-status.sh [BINARY] [ROOT]
#   BINARY defaults to target/release/run-agent (build it with cargo build --release).
#   ROOT defaults to a fresh temp folder, removed at the end.
# Tree: 50 projects x 20 tasks x 10 runs; in each task run 1 is the root attempt and
# runs 2-10 are its children, so `status` has a tree to build.
set -euo pipefail

BIN=${1:-target/release/run-agent}
ROOT=${2:-}
REPEAT=${REPEAT:-7}
if [ -z "$ROOT" ]; then
  ROOT=$(mktemp -d "${TMPDIR:-/tmp}/run-agent-bench-XXXXXX")
  trap 'rm -rf "$ROOT"' EXIT
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

build_tree() {
  local p t r dir run id parent
  for p in $(seq -w 0 49); do
    for t in $(seq -w 0 19); do
      dir="$ROOT/p$p/t$t"
      mkdir -p "$dir/runs"
      echo "echo bench" > "$dir/TASK.md"
      if [ $((10#$t % 2)) -eq 0 ]; then : > "$dir/DONE"; fi
      parent=""
      for r in $(seq 1 10); do
        id="20260101-00000${p}${t}-4242-$r"
        run="$dir/runs/$id"
        mkdir "$run"
        cat > "$run/run-info.yaml" <<YAML
version: 1
run_id: $id
project_id: p$p
task_id: t$t
parent_run_id: '$parent'
previous_run_id: ''
attempt: 1
depth: $([ -n "$parent" ] && echo 1 || echo 0)
agent: claude
agent_version: 2.0.1 (Claude Code)
commandline: claude -p --input-format text --output-format stream-json --verbose --permission-mode bypassPermissions
pid: 4242
pgid: 4242
proc_start: 123456
host: bench-host
start_time: 2026-01-01T00:00:00.000000Z
end_time: 2026-01-01T00:10:00.000000Z
exit_code: 0
status: completed
error_summary: ''
cwd: /home/user/project
prompt_path: $run/prompt.md
output_path: $run/output.md
stdout_path: $run/agent-stdout.txt
stderr_path: $run/agent-stderr.txt
usage:
  input_tokens: 12000
  output_tokens: 3400
  cache_read_tokens: 800
  cache_write_tokens: 100
  cost_usd: 0.42
YAML
        if [ -z "$parent" ]; then parent=$id; fi
      done
    done
  done
}

# Median wall time in ms of REPEAT runs of "$@" (output discarded).
median_ms() {
  local times=() i s e
  for i in $(seq 1 "$REPEAT"); do
    s=${EPOCHREALTIME/./}
    "$@" > /dev/null 2>&1
    e=${EPOCHREALTIME/./}
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p"
}

peak_rss_kib() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}'
  else
    echo "n/a"
  fi
}

if [ ! -d "$ROOT/p00" ]; then
  echo "building a 10,000-run tree in $ROOT ..." >&2
  build_tree
fi
runs=$(find "$ROOT" -name run-info.yaml | wc -l)
echo "tree: $runs runs in $ROOT; $(nproc) cores; median of $REPEAT runs, warm cache"

# Warm the cache once for everyone.
find "$ROOT" -name run-info.yaml -exec cat {} + > /dev/null

base=$(median_ms find "$ROOT" -name run-info.yaml -exec cat {} +)
list=$(median_ms "$BIN" --root "$ROOT" list --json)
status=$(median_ms "$BIN" --root "$ROOT" status --project p00 --task t00 --json)
list_rss=$(peak_rss_kib "$BIN" --root "$ROOT" list --json)
status_rss=$(peak_rss_kib "$BIN" --root "$ROOT" status --project p00 --task t00 --json)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 1; printf "%.2f", a / b }'; }
printf '%-42s %8s %7s %10s\n' command "ms" ratio "peak RSS"
printf '%-42s %8s %7s %10s\n' "find -name run-info.yaml -exec cat {} +" "$base" "1.00" "-"
printf '%-42s %8s %7s %10s\n' "list --json" "$list" "$(ratio "$list" "$base")" "${list_rss} KiB"
printf '%-42s %8s %7s %10s\n' "status --json (one task, whole-root scan)" "$status" "$(ratio "$status" "$base")" "${status_rss} KiB"
