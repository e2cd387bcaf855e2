# Root agent: two background jobs and a child task in another task folder, then DONE
# and exit at once. The task must still wait for all three.
run-agent job --prompt 'sleep 2' >/dev/null 2>&1 &
run-agent job --prompt 'sleep 2' >/dev/null 2>&1 &
run-agent task --task child-task --restart-delay 0s \
  --prompt 'sleep 2; touch "$JRUN_TASK_FOLDER/DONE"' >/dev/null 2>&1 &
touch "$JRUN_TASK_FOLDER/DONE"
