#!/bin/sh
# Stream parsing: a `job` whose agent prints a 100 MB claude stream-json stdout; the
# runner turns it into output.md and usage. Goal: parsing <= 1 s, < 32 MiB peak RSS.
# Floor, measured in the same run: `cat` of the same stream into a file (what any
# runner pays to store stdout). Parse time = job time - floor.
#
# Usage: scripts/bench/parse-stream.sh [MB]     (builds the release binary first)
set -eu
mb=${1:-100}
here=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/run-agent"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A realistic mix: assistant text and tool calls, big tool results, then one result.
python3 - "$work/stream.jsonl" "$mb" <<'PY'
import json, sys
path, mb = sys.argv[1], int(sys.argv[2])
target = mb * 1_000_000
with open(path, "w") as f:
    f.write(json.dumps({"type": "system", "subtype": "init", "model": "claude-sonnet-4-5", "session_id": "s"}) + "\n")
    n = 0
    blob = "x" * 4000
    while f.tell() < target:
        n += 1
        f.write(json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": f"step {n}: reading files"}, {"type": "tool_use", "id": f"t{n}", "name": "Read", "input": {"path": f"src/file{n}.rs"}}]}}) + "\n")
        f.write(json.dumps({"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": blob}]}}) + "\n")
    f.write(json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": "All done.", "total_cost_usd": 1.25, "usage": {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 7}}) + "\n")
PY
size=$(wc -c < "$work/stream.jsonl")

now_ns() { date +%s%N; }
t0=$(now_ns); cat "$work/stream.jsonl" > "$work/floor.out"; t1=$(now_ns)
floor_ns=$((t1 - t0))

t0=$(now_ns)
/usr/bin/time -f '%M' -o "$work/rss" "$bin" job --root "$work/root" --project bench --task parse \
  --agent claude --agent-cmd "cat $work/stream.jsonl" --prompt x > /dev/null
t1=$(now_ns)
job_ns=$((t1 - t0))
run=$(ls -d "$work"/root/bench/parse/runs/*)
[ "$(cat "$run/output.md")" = "All done." ] || { echo "unexpected output.md" >&2; exit 1; }
grep -q 'cost_usd: 1.25' "$run/run-info.yaml" || { echo "usage missing" >&2; exit 1; }

awk -v s="$size" -v f="$floor_ns" -v j="$job_ns" -v r="$(cat "$work/rss")" 'BEGIN {
  printf "stream: %.1f MB of claude stream-json\n", s/1e6
  printf "floor, cat into a file:        %7.1f ms\n", f/1e6
  printf "run-agent job (store + parse): %7.1f ms; parse = %.1f ms (goal <= 1000 ms: %s)\n", j/1e6, (j-f)/1e6, ((j-f)/1e6 <= 1000 ? "met" : "NOT met")
  printf "peak RSS of run-agent: %.1f MiB (goal < 32 MiB: %s)\n", r/1024, (r/1024 < 32 ? "met" : "NOT met")
}'
