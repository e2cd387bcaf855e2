# Sub-agent "words": counts the words of the input. Runs as a `shell` agent prompt; the
# orchestrator replaces @INPUT@ and @DEMO@ before starting it.
"@DEMO@/report.sh" PROGRESS "words: counting the words of @INPUT@"
n=$(wc -w < "@INPUT@" | tr -d ' ')
printf 'words: %s\n' "$n" > "$JRUN_RUN_FOLDER/output.md"
"@DEMO@/report.sh" PROGRESS "words: done, $n words"
