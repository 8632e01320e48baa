#!/usr/bin/env bash
# Install openusage with its test extras (in .venv unless a virtualenv is active) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The dashboard's browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
# pytest-xdist: OPENUSAGE_TEST_WORKERS processes (default: two per CPU, since most tests wait on sockets
# and child processes rather than compute); tests marked ``timing`` run one at a time on one of them
# (tests/conftest.py). OPENUSAGE_TEST_WORKERS=0 runs everything in this process.
workers="${OPENUSAGE_TEST_WORKERS:-$((2 * $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)))}"
python -m pytest -q --durations=25 -n "$workers" --dist loadgroup "$@"
