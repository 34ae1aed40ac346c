#!/usr/bin/env bash
# Example (report stage, scheduled): the wrapper the cron entry runs. One drift run over the logs
# in $NSP_LOGS against the rules in $NSP_BASELINE, keeping the history and the reports in
# $NSP_STATE. Quiet when clean; prints the Markdown report on findings (cron mails it). Exits like
# `nsp-advisor drift`: 0 clean, 1 findings, 2 error.
set -euo pipefail

: "${NSP_LOGS:?set NSP_LOGS to the folder of NSP access logs (e.g. a synced storage-account archive)}"
: "${NSP_BASELINE:?set NSP_BASELINE to the rules in place (az … access-rule list JSON or a review document)}"
: "${NSP_STATE:?set NSP_STATE to a folder for the history and the reports (not inside NSP_LOGS)}"
read -r -a NSP_ADVISOR <<<"${NSP_ADVISOR:-npx --yes nsp-advisor@0.1.0}"
FAIL_ON=${NSP_FAIL_ON:-new-blockers,denied-legitimate}
LOG=${NSP_LOG:-$NSP_STATE/drift.log}

mkdir -p "$NSP_STATE/history" "$NSP_STATE/reports"
# One run at a time (a slow run must not overlap the next day's): wait up to 10 minutes for the lock.
exec 9>"$NSP_STATE/.lock"
flock -w 600 9 || { echo "run-drift: another drift run holds $NSP_STATE/.lock" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== $(date -u +%FT%TZ) drift run" >>"$LOG"

fail() { echo "run-drift: $1 (exit $2); see $LOG" >&2; exit "$2"; }

# Read the logs once; both report formats come from the same snapshot.
"${NSP_ADVISOR[@]}" analyze "$NSP_LOGS" --out "$work/flows.arrow" 2>>"$LOG" || fail 'reading the logs failed' $?

set +e
"${NSP_ADVISOR[@]}" drift --flows "$work/flows.arrow" --baseline "$NSP_BASELINE" --history "$NSP_STATE/history" \
  --fail-on "$FAIL_ON" --format md --out "$NSP_STATE/reports/latest.md" 2>>"$LOG"
code=$?
set -e
[ "$code" -le 1 ] || fail 'nsp-advisor drift failed' "$code"
# The HTML run reads the same history; it replaces this run's own snapshot with the same bytes.
"${NSP_ADVISOR[@]}" drift --flows "$work/flows.arrow" --baseline "$NSP_BASELINE" --history "$NSP_STATE/history" \
  --fail-on none --format html --out "$NSP_STATE/reports/latest.html" 2>>"$LOG" || fail 'the HTML report failed' $?

# A dated copy, named after the newest history snapshot (the data's last day, not the clock).
newest=$(find "$NSP_STATE/history" -maxdepth 1 -name 'flows-????-??-??.arrow' -printf '%f\n' | sort | tail -n 1)
if [ -n "$newest" ]; then
  day=${newest#flows-}; day=${day%.arrow}
  cp "$NSP_STATE/reports/latest.md" "$NSP_STATE/reports/drift-$day.md"
  cp "$NSP_STATE/reports/latest.html" "$NSP_STATE/reports/drift-$day.html"
fi
echo "run-drift: exit $code" >>"$LOG"
if [ "$code" -eq 1 ]; then
  cat "$NSP_STATE/reports/latest.md"
  echo
  echo "HTML report: $NSP_STATE/reports/latest.html"
fi
exit "$code"
