#!/usr/bin/env bash
# The project's test command: install the Python dependencies, lint, test.
# Arguments are passed to pytest, e.g. `bash scripts/test.sh -m "not integration"`.
#
# What it changes on this machine: `pip install -e '.[dev]'` into the current Python
# environment (GRAFT_SKIP_INSTALL=1 skips it). Nothing else: it installs no system package,
# starts no system service and touches no running Redis or PostgreSQL. The integration tests
# start their own throwaway redis-server and PostgreSQL on free 127.0.0.1 ports (see
# tests/servers.py) and skip, saying why, when those binaries are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${GRAFT_SKIP_INSTALL:-} != 1 ]]; then
    python -m pip install -q -e '.[dev]'
fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if ! command -v initdb >/dev/null 2>&1 \
    && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=("PostgreSQL (initdb, postgres)")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    what=${missing[0]}
    [[ ${#missing[@]} -eq 1 ]] || what="$what and ${missing[1]}"
    echo "test.sh: $what not found: the integration tests that need it will skip" \
         "(Debian: apt-get install redis-server postgresql)" >&2
fi

ruff check .
lint-imports

rc=0
python -m pytest -q "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "test.sh: pytest collected no tests (exit code 5); that counts as a failure" >&2
    exit 1
fi
exit "$rc"
