# Ignores SIGTERM; the ignore is inherited by its background sleep, so only SIGKILL
# ends this group.
trap '' TERM
echo $$ >> "$FAKE_READY/pids"
sleep 300 &
echo $! >> "$FAKE_READY/pids"
touch "$FAKE_READY/ignore"
while :; do wait; sleep 1; done
