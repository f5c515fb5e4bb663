# shellcheck shell=bash
# Shared by scripts/run, scripts/test and scripts/check (sourced, not executed).
# Creates the virtualenv and installs requirements/local.txt when it changed;
# installs a Node package directory's lockfile with npm ci when it changed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating virtualenv $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.requirements.sha256" want
    want=$(cat "$ROOT"/requirements/*.txt | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "==> installing requirements/local.txt"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements/local.txt"
        echo "$want" > "$stamp"
    fi
}

# ensure_node_modules DIR WHAT: DIR (relative to the root) holds a package.json
# and package-lock.json; WHAT names it in the message.
ensure_node_modules() {
    local dir="$ROOT/$1" what=$2 stamp want
    stamp="$dir/node_modules/.lock.sha256"
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "==> installing $what (npm ci in $1)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" > "$stamp"
    fi
}
