#!/usr/bin/env bash
# Bench: the whole demo study (`snakemake --cores all` + `snakemake --report`, i.e. `make run`
# without its set-up) in a fresh clone of this checkout, timed with /usr/bin/time -v.
#
#   bench/demo.sh [CORES]        # CORES defaults to all
#
# The clone is made from the working tree as it is now (tracked and untracked, non-ignored
# files, so uncommitted work is benched too) into a temporary folder, and reuses this
# checkout's .venv (set-up excluded). Prints the wall time and peak memory of the run and of
# the report, then the slowest jobs from benchmarks/. The clone is removed at the end unless
# KEEP=1.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORES="${1:-all}"
VENV="$REPO/.venv"
[ -x "$VENV/bin/snakemake" ] || { echo "bench/demo.sh: $VENV/bin/snakemake missing: run 'make test' or 'make run' once for the set-up" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/demo.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

# shellcheck source=bench/fresh_copy.sh
source "$REPO/bench/fresh_copy.sh"
fresh_copy demo

measure() {  # label, command...
    local label="$1"; shift
    /usr/bin/time -v -o "$WORK/$label.time" "$@" > "$WORK/$label.log" 2>&1 || {
        echo "bench/demo.sh: '$*' failed; last lines of its log:" >&2
        tail -40 "$WORK/$label.log" >&2; KEEP=1; exit 1; }
    local wall peak
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/$label.time")
    peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/$label.time")
    printf '%-8s wall %s   peak RSS (largest single process) %s MiB\n' "$label" "$wall" "$(awk -v k="$peak" 'BEGIN{printf "%.0f", k/1024}')"
}

echo "demo study in $WORK/clone (cores: $CORES, $(nproc) CPUs)"
measure run snakemake --cores "$CORES"
measure report snakemake --report results/report.html
test -s results/report.html && test -s results/tables/phase5.csv
echo "slowest jobs (benchmarks/, seconds, max RSS MiB):"
for f in $(find benchmarks -name '*.tsv' | sort); do
    printf '%s\t%s\n' "$(tail -n 1 "$f" | cut -f1,3)" "${f#benchmarks/}"
done | sort -rn | head -12
