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
# The VM kernel matrix runs alone, after the rest: its qemu guests take both cores.
if [ $# -eq 0 ]; then
  echo "== VM kernel matrix (Debian 6.1 and 6.12 under qemu)"
  # Three kernels booted one after the other under TCG: about 5 minutes, more than tap's default
  # per-file timeout (300 s) leaves room for.
  npx --no-install tap --timeout 1200 test/vm/kernel-matrix.vm.ts 2>&1 | tee test-artifacts/vm.log
  vm_status=${PIPESTATUS[0]}
  [ "$vm_status" = 0 ] || status=$vm_status
  cat test-artifacts/vm.log >> test-artifacts/tap.log
fi
set -e
# tap ends with "# { total: N, pass: P, fail: F }"; restate it as a plain closing line.
# (one summary line per tap run; the VM matrix adds a second)
pass=0; fail=0
while read -r summary; do
  pass=$((pass + $(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")))
  fail=$((fail + $(sed -nE 's/.*fail: ([0-9]+).*/\1/p;t;s/.*/0/p' <<<"$summary")))
done < <(grep -E '^# \{ total: [0-9]+' test-artifacts/tap.log)
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$status"
