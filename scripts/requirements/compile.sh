#!/usr/bin/env bash
# Regenerate test.txt from test.in: every transitive dependency pinned to an
# exact version with the sha256 hashes of all its files on PyPI, so that
# `pip install --require-hashes -r test.txt` (scripts/test.sh) installs the
# same bytes on every machine. Run it only to change a pin on purpose (edit
# test.in first; add --upgrade-package NAME to move a transitive one), then
# commit test.in and test.txt together: the next run of scripts/test.sh tests
# against the new oracle.
#
# pip-compile runs from a throwaway virtual environment with a pinned
# pip-tools; it keeps the versions already in test.txt unless test.in
# changes them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --disable-pip-version-check pip-tools==7.7.0
cd "$here"
# No local wheel directories (PIP_FIND_LINKS) may leak into the file.
env -u PIP_FIND_LINKS CUSTOM_COMPILE_COMMAND="scripts/requirements/compile.sh" \
  "$tmp/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links --output-file=test.txt "$@" test.in
