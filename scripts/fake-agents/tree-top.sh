# Top of a three-level tree: a plain background process, a child run that ignores
# SIGTERM, a child run that has a grandchild run. Never finishes by itself.
echo $$ >> "$FAKE_READY/pids"
sleep 300 &
echo $! >> "$FAKE_READY/pids"
run-agent job --task ignore --prompt-file "$FAKE_AGENTS/ignore-term.sh" >/dev/null 2>&1 &
run-agent job --task middle --prompt-file "$FAKE_AGENTS/tree-middle.sh" >/dev/null 2>&1 &
touch "$FAKE_READY/top"
wait
