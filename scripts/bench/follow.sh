#!/usr/bin/env bash
# `bus read --follow` latency, with file events and with polling only.
#   scripts/bench/follow.sh [N]
source "$(dirname "$0")/common.sh"
N="${1:-300}"
machine
echo "[file events (inotify)]"
python3 "$REPO/scripts/bench/follow_latency.py" "$BIN" "$WORK/a.md" "$N"
echo "[polling only: JRUN_POLL_ONLY=1 JRUN_POLL_INTERVAL=10ms]"
JRUN_POLL_ONLY=1 JRUN_POLL_INTERVAL=10ms python3 "$REPO/scripts/bench/follow_latency.py" "$BIN" "$WORK/b.md" "$N"
