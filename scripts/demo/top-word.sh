# Sub-task "top-word": finds the most frequent word of the input. Runs as a `shell`
# agent in a task of its own; its first attempt crashes on purpose, so the Ralph loop
# restarts it and the second attempt finishes the task with DONE. The orchestrator
# replaces @INPUT@ and @DEMO@ before starting it.
n=$(cat "$JRUN_TASK_FOLDER/attempts" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$JRUN_TASK_FOLDER/attempts"
if [ "$n" -eq 1 ]; then
    "@DEMO@/report.sh" ERROR "top-word: attempt 1 crashed (on purpose); the loop will restart me"
    echo "top-word: simulated crash in attempt 1" >&2
    exit 3
fi
"@DEMO@/report.sh" PROGRESS "top-word: attempt $n, counting word frequencies in @INPUT@"
top=$(tr -cs 'A-Za-z' '\n' < "@INPUT@" | tr 'A-Z' 'a-z' | grep -v '^$' | sort | uniq -c | sort -k1,1nr -k2 | head -n 1)
count=$(echo "$top" | awk '{print $1}')
word=$(echo "$top" | awk '{print $2}')
printf 'top word: %s (%s times)\n' "$word" "$count" > "$JRUN_RUN_FOLDER/output.md"
"@DEMO@/report.sh" PROGRESS "top-word: done, \"$word\" appears $count times"
printf 'Done: top word found in attempt %s\n' "$n" > "$JRUN_TASK_FOLDER/TASK_STATE.md"
touch "$JRUN_TASK_FOLDER/DONE"
