#!/usr/bin/env bash
# A long libFuzzer run of one target, recorded (docs/SECURITY.md, "Fuzzing"):
#   tools/fuzz_long.sh TARGET MINUTES
# Runs build-fuzz/bin/TARGET (make fuzz) for MINUTES on a copy of its seed corpus
# (fuzz/corpus/TARGET, which it leaves unchanged) with its dictionary, and appends one
# line per run to docs/fuzz-runs/TARGET.txt: date, minutes, executions, exec/s, coverage
# (cov: edges, ft: features), corpus size (files/bytes), findings (crash, leak, timeout,
# out-of-memory reproducers, kept in FUZZ_RUNS_DIR/TARGET-DATE/ to be fixed and added to
# the corpus). libFuzzer's own log is kept beside them. Exit status: 0 with no finding.
#
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_RUNS_DIR (default /var/tmp/coedge-fuzz),
# NICE (default 19: long runs yield to everything else), FUZZ_JOBS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
  echo "usage: $0 TARGET MINUTES" >&2
  exit 2
fi
target=$1
minutes=$2
build=${FUZZ_BUILD:-build-fuzz}
bin=$build/bin/$target
[ -x "$bin" ] || { echo "$bin not built: run make fuzz" >&2; exit 2; }
# Seeds: fuzz/corpus/TARGET, and what the fuzz build generates (build-fuzz/seeds/TARGET).
[ -d "fuzz/corpus/$target" ] || [ -d "$build/seeds/$target" ] ||
  { echo "no seeds for $target: fuzz/corpus/$target or $build/seeds/$target (make fuzz)" >&2; exit 2; }
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=${FUZZ_RUNS_DIR:-/var/tmp/coedge-fuzz}/$target-$stamp
mkdir -p "$work/corpus" "$work/artifacts"
for seeds in "fuzz/corpus/$target" "$build/seeds/$target"; do
  [ ! -d "$seeds" ] || cp -r "$seeds/." "$work/corpus/"
done
dict=()
[ -f "fuzz/dict/$target.dict" ] && dict=(-dict="fuzz/dict/$target.dict")
seconds=$(awk -v m="$minutes" 'BEGIN{printf "%d", m * 60}')
[ "$seconds" -ge 1 ] || { echo "MINUTES must be positive (0 would make libFuzzer run forever)" >&2; exit 2; }
echo "$target: $minutes min, corpus $work/corpus, log $work/fuzz.log"
started=$(date +%s)
set +e
nice -n "${NICE:-19}" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" "$work/corpus" >"$work/fuzz.log" 2>&1
status=$?
set -e
ended=$(date +%s)
# libFuzzer's last status line ("#N DONE cov: C ft: F corp: N/SIZE exec/s: R ...") and
# final stats (stat::number_of_executed_units, stat::average_exec_per_sec).
last=$(grep -E '^#[0-9]+' "$work/fuzz.log" | tail -n 1 || true)
field() { sed -nE "s/.*$1: ([^ ]+).*/\1/p" <<<"$last"; }
stat() { sed -nE "s/^stat::$1: *([0-9]+).*/\1/p" "$work/fuzz.log" | tail -n 1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
findings=$(find "$work/artifacts" -type f | wc -l)
files=$(find "$work/corpus" -type f | wc -l)
bytes=$(du -sb "$work/corpus" | cut -f1)
if [ "$findings" -gt 0 ]; then
  what=$(find "$work/artifacts" -type f -printf '%f\n' | sed 's/-.*//' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
else
  what=none
fi
# Wall-clock minutes: a run that stops at its first finding ran less than it was given.
ran_min=$(awk -v s="$((ended - started))" 'BEGIN{printf "%.1f", s/60}')
record=docs/fuzz-runs/$target.txt
if [ ! -f "$record" ]; then
  {
    echo "# $target: long libFuzzer runs (tools/fuzz_long.sh $target MINUTES), one line per run."
    echo "# date (UTC) | minutes asked/ran | executions | exec/s | cov | ft | corpus files/bytes | findings | exit"
  } >"$record"
fi
echo "$stamp | $minutes/$ran_min | ${execs:-?} | ${rate:-?} | $(field cov) | $(field ft) | $files/$bytes | $what | $status" | tee -a "$record"
[ "$findings" -eq 0 ] && [ "$status" -eq 0 ]
