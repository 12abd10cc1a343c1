# Sourced by bench/demo.sh and bench/suite.sh: `fresh_copy NAME` makes a temporary folder
# $WORK (removed on exit unless KEEP=1) holding $WORK/clone, a fresh copy of this checkout's
# working tree: every file git would commit (tracked and untracked, not ignored, so
# uncommitted work is benched too), nothing built, with this checkout's .venv linked in
# (set-up excluded). Then it enters the copy and puts the venv first on PATH.
# Needs REPO (the checkout) and VENV (its .venv) set by the caller.
fresh_copy() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/isicgan-$1.XXXXXX")"
    cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi; }
    trap cleanup EXIT
    mkdir -p "$WORK/clone"
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$WORK/clone"
    ln -s "$VENV" "$WORK/clone/.venv"
    cd "$WORK/clone"
    export PATH="$VENV/bin:$PATH"
}
