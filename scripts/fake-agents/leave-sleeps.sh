# Leaves two plain background processes behind and finishes: they must not hold the
# task, and must not outlive it.
sleep 300 &
echo $! >> "$FAKE_READY/pids"
sleep 300 &
echo $! >> "$FAKE_READY/pids"
: > "$JRUN_TASK_FOLDER/DONE"
