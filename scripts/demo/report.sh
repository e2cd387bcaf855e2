#!/bin/sh
# report.sh TYPE BODY: post a message on this run's task bus ($JRUN_MESSAGE_BUS).
#
# Uses `run-agent bus post` when this build has it; otherwise appends the record itself,
# under flock, in the format of SPEC §3 -- the way any program may write to the bus.
# Either way the bus gets a record with `type: TYPE` and BODY as its body.
set -eu
type=$1
body=$2
if run-agent bus --help >/dev/null 2>&1; then
    exec run-agent bus post --type "$type" --body "$body"
fi
ts=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
# One record, one write: `cat` copies the here-document with a single write(2) for a
# record this small, and the lock keeps other writers out meanwhile.
flock "$JRUN_MESSAGE_BUS" sh -c 'cat >> "$JRUN_MESSAGE_BUS"' <<RECORD
---
ts: $ts
type: $type
project_id: $JRUN_PROJECT_ID
task_id: $JRUN_TASK_ID
run_id: $JRUN_ID
from: $JRUN_ID
---
$body
RECORD
