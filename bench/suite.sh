#!/usr/bin/env bash
# Bench: the test suite (`make test`'s pytest command, i.e. pyproject.toml's addopts: xdist
# workers, loadgroup) in a fresh copy of this checkout, timed.
#
#   bench/suite.sh [PYTEST_ARGS...]      # extra arguments go to pytest (e.g. -n 1)
#
# The copy is made from the working tree as it is now (tracked and untracked, non-ignored
# files, so uncommitted work is benched too) into a temporary folder, and reuses this
# checkout's .venv (set-up excluded). Prints the machine, the wall time, the load average
# before and after, the test counts and the 15 slowest tests. The copy is removed at the end
# unless KEEP=1. Measure idle: other processes on the machine inflate every figure.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
[ -x "$VENV/bin/python" ] || { echo "bench/suite.sh: $VENV/bin/python missing: run 'make test' once for the set-up" >&2; exit 1; }

# shellcheck source=bench/fresh_copy.sh
source "$REPO/bench/fresh_copy.sh"
fresh_copy suite

cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
mem="$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
echo "machine: $(hostname), ${cpu:-unknown CPU}, $(nproc) CPUs, $mem; $(python3 --version 2>&1)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
started=$(date +%s.%N)
set +e
# the Makefile's test line without its set-up: `$(PY) -m pytest`, plus the timing report
.venv/bin/python -m pytest -p no:cacheprovider --durations=15 "$@" > "$WORK/pytest.log" 2>&1
rc=$?
set -e
ended=$(date +%s.%N)
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v s="$started" -v e="$ended" 'BEGIN {w = e - s; printf "wall: %.0f s (%d min %02d s)\n", w, w / 60, w % 60}'
echo "result: $(grep -E '^=+ .*(passed|failed|error).* in ' "$WORK/pytest.log" | tail -1 | tr -d '=')"
echo "15 slowest (setup and call, as pytest --durations reports them):"
sed -n '/slowest 15 durations/,/^$/p' "$WORK/pytest.log" | grep -E '^[0-9.]+s ' || true
if [ "$rc" != 0 ]; then
    echo "bench/suite.sh: pytest exited with $rc; the failures:" >&2
    grep -E '^(FAILED|ERROR) ' "$WORK/pytest.log" >&2 || tail -40 "$WORK/pytest.log" >&2
    exit "$rc"
fi
