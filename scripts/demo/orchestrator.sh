#!/bin/sh
# A scripted orchestrator for the demo: stands in for `claude` (run it with
# `--agent claude --agent-cmd scripts/demo/orchestrator.sh`) and prints Claude Code's
# `stream-json` events -- system init, assistant text, a final `result` with usage and
# cost -- while it does what THE_PROMPT.md asks of a root agent:
#
#   read TASK.md; split the work; start three sub-agents (two `run-agent job` in the
#   background, one `run-agent task` whose first attempt crashes); wait for them
#   (`wait`, `run-agent wait`); read and check their output.md; write its own
#   output.md and TASK_STATE.md; create DONE.
#
# The sub-agents are `shell` agents whose prompts are scripts/demo/{lines,words,top-word}.sh;
# they report over the bus with scripts/demo/report.sh.
set -u

if [ "${1:-}" = "--version" ]; then
    echo "0.1.0 (run-agent demo orchestrator)"
    exit 0
fi
cat > /dev/null # the prompt; it is also in $JRUN_PROMPT_FILE

DEMO=$(cd "$(dirname "$0")" && pwd)
SID=demo-$JRUN_ID
MODEL=demo-orchestrator
STARTED=$(date +%s)

json_escape() {
    printf '%s' "$1" | LC_ALL=C awk '
        { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/\r/, "")
          if (NR > 1) printf "\\n"; printf "%s", $0 }'
}

turn=0
say() {
    turn=$((turn + 1))
    printf '{"type":"assistant","message":{"id":"msg_%s","type":"message","role":"assistant","model":"%s","content":[{"type":"text","text":"%s"}],"stop_reason":null,"usage":{"input_tokens":%s,"output_tokens":%s}},"session_id":"%s"}\n' \
        "$turn" "$MODEL" "$(json_escape "$1")" $((200 * turn)) $((40 * turn)) "$SID"
}

fail() {
    say "$1"
    "$DEMO/report.sh" ERROR "orchestrator: $1" || true
    printf 'FAILED: %s\n' "$1" > "$JRUN_RUN_FOLDER/output.md"
    printf '{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":%s,"session_id":"%s","total_cost_usd":0.001,"usage":{"input_tokens":100,"output_tokens":10,"cache_read_input_tokens":0,"cache_creation_input_tokens":0},"errors":["%s"]}\n' \
        "$turn" "$SID" "$(json_escape "$1")"
    exit 1
}

printf '{"type":"system","subtype":"init","cwd":"%s","session_id":"%s","model":"%s","tools":["Bash"],"permissionMode":"bypassPermissions"}\n' \
    "$(json_escape "$PWD")" "$SID" "$MODEL"

# 1. Read the task.
INPUT=$(sed -n 's/^Input: //p' "$JRUN_TASK_FOLDER/TASK.md" | head -n 1)
[ -r "$INPUT" ] || fail "TASK.md names no readable input file (a line 'Input: PATH')"
say "Read TASK.md: report the lines, words and most frequent word of $INPUT. Splitting it across three sub-agents: lines and words as jobs, top-word as a sub-task."
printf 'Done: nothing yet\nNext: start the sub-agents lines, words, top-word\nChildren: none\nOpen questions: none\n' > "$JRUN_TASK_FOLDER/TASK_STATE.md.tmp"
mv "$JRUN_TASK_FOLDER/TASK_STATE.md.tmp" "$JRUN_TASK_FOLDER/TASK_STATE.md"

# 2. One prompt file per part.
P=$JRUN_RUN_FOLDER/prompts
mkdir -p "$P"
for part in lines words top-word; do
    sed -e "s|@INPUT@|$INPUT|g" -e "s|@DEMO@|$DEMO|g" "$DEMO/$part.sh" > "$P/$part.sh"
done

# 3. Start them in parallel, each with its own log; --json leaves a summary with the
#    run id and output path.
SUB=$JRUN_TASK_ID-top-word
run-agent job --agent shell --prompt-file "$P/lines.sh" --json > "$P/lines.json" 2> "$P/lines.log" &
lines_pid=$!
run-agent job --agent shell --prompt-file "$P/words.sh" --json > "$P/words.json" 2> "$P/words.log" &
words_pid=$!
run-agent task --task "$SUB" --agent shell --prompt-file "$P/top-word.sh" \
    --max-restarts 3 --restart-delay 200ms --json > "$P/top-word.json" 2> "$P/top-word.log" &
top_pid=$!
"$DEMO/report.sh" PROGRESS "orchestrator: started jobs lines and words, and sub-task $SUB"
printf 'Done: split into three parts\nNext: wait for the children\nChildren: jobs lines, words (this task); task %s\nOpen questions: none\n' "$SUB" > "$JRUN_TASK_FOLDER/TASK_STATE.md.tmp"
mv "$JRUN_TASK_FOLDER/TASK_STATE.md.tmp" "$JRUN_TASK_FOLDER/TASK_STATE.md"
say "Started jobs lines and words and sub-task $SUB; waiting for them."

# 4. Wait: the jobs with the shell's wait, the sub-task with run-agent wait (it names a
#    task folder, which its runner creates a moment after starting).
wait "$lines_pid"; lines_rc=$?
wait "$words_pid"; words_rc=$?
tries=0
while :; do
    run-agent wait --task "$SUB" --timeout 60s > "$P/wait.log" 2>&1
    wait_rc=$?
    [ "$wait_rc" -eq 2 ] && [ "$tries" -lt 100 ] || break
    tries=$((tries + 1))
    sleep 0.1
done
wait "$top_pid"; top_rc=$?
[ "$lines_rc" -eq 0 ] || fail "job lines exited with $lines_rc; see $P/lines.log"
[ "$words_rc" -eq 0 ] || fail "job words exited with $words_rc; see $P/words.log"
[ "$wait_rc" -eq 0 ] && [ "$top_rc" -eq 0 ] || fail "sub-task $SUB did not finish (wait: $wait_rc, task: $top_rc); see $P/top-word.log"

# 5. Collect and verify: every child's output.md, found through its --json summary.
output_of() {
    sed -n 's/.*"output_path":"\([^"]*\)".*/\1/p' "$1"
}
lines_out=$(output_of "$P/lines.json")
words_out=$(output_of "$P/words.json")
top_out=$(output_of "$P/top-word.json")
for f in "$lines_out" "$words_out" "$top_out"; do
    [ -s "$f" ] || fail "a child's output.md is missing or empty: '$f'"
done
lines=$(sed -n 's/^lines: //p' "$lines_out")
words=$(sed -n 's/^words: //p' "$words_out")
top=$(sed -n 's/^top word: //p' "$top_out")
[ "$lines" = "$(wc -l < "$INPUT" | tr -d ' ')" ] || fail "job lines reported '$lines'; wc -l disagrees"
attempts=$(ls "$JRUN_ROOT/$JRUN_PROJECT_ID/$SUB/runs" | wc -l | tr -d ' ')
"$DEMO/report.sh" FACT "orchestrator: checked all three results ($lines lines, $words words, top word $top; $SUB took $attempts attempts)"
say "All three sub-agents finished: $lines lines, $words words, top word $top. $SUB needed $attempts attempts."

# 6. Finish: output.md, TASK_STATE.md, then DONE.
cat > "$JRUN_RUN_FOLDER/output.md" <<OUT
# Report on $INPUT

- lines: $lines (job lines, $lines_out)
- words: $words (job words, $words_out)
- top word: $top (sub-task $SUB, $attempts attempts: the first crashed on purpose and was restarted)

Verified: the line count against \`wc -l\`; every child exited 0 and wrote output.md.
OUT
printf 'Done: lines, words and top word reported in %s\nNext: nothing\nChildren: all finished\nOpen questions: none\n' "$JRUN_RUN_FOLDER/output.md" > "$JRUN_TASK_FOLDER/TASK_STATE.md.tmp"
mv "$JRUN_TASK_FOLDER/TASK_STATE.md.tmp" "$JRUN_TASK_FOLDER/TASK_STATE.md"
touch "$JRUN_TASK_FOLDER/DONE"
RESULT="Report written: $lines lines, $words words, top word $top."
printf '{"type":"result","subtype":"success","is_error":false,"duration_ms":%s,"num_turns":%s,"result":"%s","session_id":"%s","total_cost_usd":0.0042,"usage":{"input_tokens":1200,"output_tokens":180,"cache_read_input_tokens":300,"cache_creation_input_tokens":0}}\n' \
    $(( ($(date +%s) - STARTED) * 1000 )) "$turn" "$(json_escape "$RESULT")" "$SID"
