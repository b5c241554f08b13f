#!/usr/bin/env bash
# The project's test command: install, make sure Redis and PostgreSQL answer, lint, test.
# Arguments are passed to pytest, e.g. `bash scripts/test.sh -m "not integration"`.
# GRAFT_SKIP_INSTALL=1 skips the install (.ci/run has done it already).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${GRAFT_SKIP_INSTALL:-} != 1 ]]; then
    python -m pip install -q -e '.[dev]'
fi
bash scripts/services.sh
ruff check .

rc=0
python -m pytest -q "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    echo "test.sh: pytest collected no tests (exit code 5); that counts as a failure" >&2
    exit 1
fi
exit "$rc"
