# Middle of the tree: starts a grandchild run and waits.
echo $$ >> "$FAKE_READY/pids"
run-agent job --task leaf --prompt-file "$FAKE_AGENTS/tree-leaf.sh" >/dev/null 2>&1 &
touch "$FAKE_READY/middle"
wait
