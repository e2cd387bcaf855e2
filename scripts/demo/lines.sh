# Sub-agent "lines": counts the lines of the input. Runs as a `shell` agent prompt; the
# orchestrator replaces @INPUT@ and @DEMO@ before starting it.
"@DEMO@/report.sh" PROGRESS "lines: counting the lines of @INPUT@"
n=$(wc -l < "@INPUT@" | tr -d ' ')
printf 'lines: %s\n' "$n" > "$JRUN_RUN_FOLDER/output.md"
"@DEMO@/report.sh" PROGRESS "lines: done, $n lines"
