# Writes DONE the instant after starting a sub-run: the sub-run must still be waited for.
run-agent job --prompt 'sleep 1; echo sub-run finished' >/dev/null 2>&1 &
: > "$JRUN_TASK_FOLDER/DONE"
