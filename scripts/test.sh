#!/usr/bin/env bash
# Install what the tests need and run the whole suite (this is the README's second command; CI runs it too).
# Runs as root on a clean checkout: installs the package with its test extras, the web bundle (npm) and
# Debian's chromium for the browser tests. The shared data folder is $LEEFBAAR_DATA or ../shared/data.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
# A Java runtime for PySpark (tests/test_spark.py runs Spark in local mode; Spark 4 needs Java 17 or later).
command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null; }
# Message catalogues: .po -> .mo (build products, not committed; leefbaar.i18n falls back to the .po if absent).
bash scripts/i18n.sh compile
bash scripts/setup-web.sh --test
# One thread per BLAS/OpenMP pool: the suite runs many fits on 2 cores, and oversubscribed pools stall them.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
set +e
# Two processes, one per core (pytest-xdist); a test file stays in one process, so its module fixtures (a
# browser, a dashboard server) are made once. The session stores are shared between them (tests/conftest.py).
python3 -m pytest -q -p no:cacheprovider -n "${LEEFBAAR_TEST_PROCESSES:-2}" --dist loadfile "$@"
code=$?
set -e
if [[ $code -eq 5 ]]; then
  echo "no tests were collected" >&2
fi
exit $code
