# Shared by the bus benchmarks: paths, the release binary, the C floor, timing.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${RUN_AGENT:-$REPO/target/release/run-agent}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/run-agent-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
if [ ! -x "$BIN" ] || [ -z "${RUN_AGENT:-}" ]; then
    (cd "$REPO" && cargo build --release --quiet)
fi
FLOOR="$WORK/floor"
cc -O2 -o "$FLOOR" "$REPO/scripts/bench/floor.c"
# Nanoseconds since the epoch.
now() { date +%s%N; }
# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
machine() { echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"; }
