#!/usr/bin/env bash
# `npm test`: set up, bring up the real stack (a failure to start fails the run; nothing is
# skipped), run every test with node-tap, and stop the services this run started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

fw() { node bin/filewarden.js "$@"; }

# Remember what was already running, so a developer's own stack is left as it was.
started_here=0
if ! fw stack status >/dev/null 2>&1; then started_here=1; fi
cleanup() { if [ "$started_here" = 1 ]; then fw stack down || true; fi; }
trap cleanup EXIT

fw stack up
echo "== stack under test"
fw stack status
echo "== host"
fw doctor --fix || echo "doctor: required checks failed (see above); the tests that need them will fail" >&2

echo "== type-check (sources and tests)"
npx --no-install tsc -p tsconfig.check.json

mkdir -p test-artifacts
set +e
npx --no-install tap "$@" 2>&1 | tee test-artifacts/tap.log
status=${PIPESTATUS[0]}
set -e
# tap ends with "# { total: N, pass: P, fail: F }"; restate it as a plain closing line.
summary=$(grep -E '^# \{ total: [0-9]+' test-artifacts/tap.log | tail -1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$status"
