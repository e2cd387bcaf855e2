#!/usr/bin/env bash
# Benchmark of `watch` latency: the time from a line appended to a live run's
# agent-stdout.txt to `watch --json` printing it (issue 6: p50 <= 20 ms).
#
# Usage: scripts/bench/watch-latency.sh [BINARY]
#   BINARY defaults to target/release/run-agent. LINES (default 200) lines are written
#   20 ms apart. NOTIFY=0 measures the polling fallback (JRUN_NO_NOTIFY) instead, with
#   JRUN_POLL_INTERVAL (default 500ms).
set -euo pipefail

BIN=${1:-target/release/run-agent}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
LINES=${LINES:-200}
NOTIFY=${NOTIFY:-1}
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/run-agent-latency-XXXXXX")
JOB=""; WATCH=""; READER=""
cleanup() {
  for p in $WATCH $READER $JOB; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
[ "$NOTIFY" = 0 ] && export JRUN_NO_NOTIFY=1

# A live run: the agent waits until told to finish (bounded).
"$BIN" --root "$ROOT" job --project bench --task lat --kill-grace 0s \
  --prompt 'i=0; while [ ! -e "$JRUN_TASK_FOLDER/stop" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done' \
  > /dev/null 2>&1 &
JOB=$!
for _ in $(seq 1 200); do
  info=$(find "$ROOT/bench/lat/runs" -name run-info.yaml 2>/dev/null | head -1)
  [ -n "$info" ] && break
  sleep 0.05
done
[ -n "$info" ] || { echo "the run did not start" >&2; exit 1; }
OUT=$(dirname "$info")/agent-stdout.txt

mkfifo "$ROOT/pipe"
"$BIN" --root "$ROOT" watch --project bench --task lat --json > "$ROOT/pipe" 2> "$ROOT/watch.err" &
WATCH=$!
# Stamp every line watch prints with the time it arrived.
while IFS= read -r line; do echo "${EPOCHREALTIME/./} $line"; done < "$ROOT/pipe" > "$ROOT/recv.log" &
READER=$!
sleep 0.5  # let watch set up its watches before the first line

for i in $(seq 1 "$LINES"); do
  echo "lat $i ${EPOCHREALTIME/./}" >> "$OUT"
  sleep 0.02
done
for _ in $(seq 1 200); do
  [ "$(grep -c '"text":"lat ' "$ROOT/recv.log" || true)" -ge "$LINES" ] && break
  sleep 0.05
done
touch "$ROOT/bench/lat/stop"

grep '"text":"lat ' "$ROOT/recv.log" \
  | sed -E 's/^([0-9]+) .*"text":"lat [0-9]+ ([0-9]+)".*/\1 \2/' \
  | awk '{ print ($1 - $2) / 1000 }' | sort -n > "$ROOT/lat.ms"
n=$(wc -l < "$ROOT/lat.ms")
pct() { sed -n "$(( ($1 * n + 99) / 100 ))p" "$ROOT/lat.ms"; }
mode=$([ "$NOTIFY" = 0 ] && echo "polling every ${JRUN_POLL_INTERVAL:-500ms}" || echo "inotify")
echo "watch latency ($mode), $n of $LINES lines, $(nproc) cores: p50 $(pct 50) ms, p90 $(pct 90) ms, p99 $(pct 99) ms, max $(tail -1 "$ROOT/lat.ms") ms"
cat "$ROOT/watch.err" >&2
