# Leaf of the tree: exits cleanly on SIGTERM; double-forks a sleep, which stays in the
# agent's process group though its parent is gone.
trap 'exit 0' TERM
echo $$ >> "$FAKE_READY/pids"
( sleep 300 & echo $! >> "$FAKE_READY/pids" )
touch "$FAKE_READY/leaf"
sleep 300 &
echo $! >> "$FAKE_READY/pids"
wait
