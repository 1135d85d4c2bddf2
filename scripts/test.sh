#!/usr/bin/env bash
# `npm test`: set up, bring up the tests' own stack (a failure to start fails the run; nothing is
# skipped), run every test with node-tap between the two halves of the isolation guard, and stop
# the services this run started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/own-stack.sh
own_stack_lock scripts/test.sh "$@"
bash scripts/setup.sh

mkdir -p test-artifacts
: > test-artifacts/tap.log
trap 'guard_release; own_stack_down' EXIT
# The tests' own stack, on ports of its own: /var/lib/filewarden-test next to /var/lib/filewarden.
own_stack test 16380 19200 19300
echo "== host"
fw doctor --fix || echo "doctor: required checks failed (see above); the tests that need them will fail" >&2

echo "== type-check (sources and tests)"
npx --no-install tsc -p tsconfig.check.json

# The second pass: the suites whose outcome depends on Elasticsearch or on how Redis is reached.
# Left out: the pipeline tests of a process's own behaviour (its log format, its lock, its stop
# deadline, its startup errors, a full spool disk, a rule's regex cost), which the first pass covers,
# and redis-replica-wait, which stops a replica of a lone Redis of its own making (here the stack's
# own replica would answer WAIT): test/cluster/redis-failover covers WAIT with Sentinels.
ES9_VERSION=9.5.4
ES9_SUITES=(test/integration/compliance/*.test.ts test/integration/kibana-searches.test.ts test/integration/elasticsearch-bulk.test.ts
  test/integration/es-connection.test.ts test/integration/es-scan-pit.test.ts test/integration/search.test.ts test/integration/gaps-period.test.ts)
for f in test/integration/pipeline/*.test.ts; do
  case "$(basename "$f" .test.ts)" in
    json-log|state-lock|stop-deadline|startup-errors|spool-honesty|rule-glob-redos|redis-replica-wait) ;;
    *) ES9_SUITES+=("$f") ;;
  esac
done

set +e
status=0
full=0; [ $# -eq 0 ] && full=1
if [ "$full" = 1 ]; then
  echo "== isolation guard: the user's stack before the run"
  guard begin test-artifacts/tap.log || status=1
fi
npx --no-install tap "$@" 2>&1 | tee test-artifacts/main.log
main_status=${PIPESTATUS[0]}
[ "$main_status" = 0 ] || status=$main_status
cat test-artifacts/main.log >> test-artifacts/tap.log
# The second topology: the suites that talk to Elasticsearch run again against 9.x as a 3-node
# cluster (replicas 1), with Redis behind Sentinels (a replica, three Sentinels: every process
# connects through a redis-sentinel:// URL); then the fault tests that kill one of those servers
# (test/cluster) run there, one at a time. A stack that does not start fails the run.
if [ "$full" = 1 ]; then
  echo "== second pass: Elasticsearch $ES9_VERSION as a 3-node cluster, Redis with a replica and Sentinels"
  if ! own_stack test-es9 17380 19210 19310 --es-version "$ES9_VERSION" --es-nodes 3 --redis-sentinel; then
    echo "the second pass's stack did not start: the pass fails" >&2
    echo "# { total: 1, pass: 0, fail: 1 }" >> test-artifacts/tap.log
    status=1
  else
    FILEWARDEN_EXPECT_ES_VERSION=$ES9_VERSION npx --no-install tap "${ES9_SUITES[@]}" 2>&1 | tee test-artifacts/es9.log
    es9_status=${PIPESTATUS[0]}
    [ "$es9_status" = 0 ] || status=$es9_status
    cat test-artifacts/es9.log >> test-artifacts/tap.log
    FILEWARDEN_EXPECT_ES_VERSION=$ES9_VERSION npx --no-install tap --jobs 1 --timeout 900 test/cluster/*.cluster.ts 2>&1 | tee test-artifacts/cluster.log
    cluster_status=${PIPESTATUS[0]}
    [ "$cluster_status" = 0 ] || status=$cluster_status
    cat test-artifacts/cluster.log >> test-artifacts/tap.log
  fi
  own_stack_down
fi
# The VM kernel matrix runs alone, after the rest: its qemu guests take both cores.
if [ "$full" = 1 ]; then
  echo "== VM kernel matrix (Debian 6.1 and 6.12 under qemu)"
  # Three kernels booted one after the other under TCG: about 5 minutes, more than tap's default
  # per-file timeout (300 s) leaves room for.
  npx --no-install tap --timeout 1200 test/vm/kernel-matrix.vm.ts 2>&1 | tee test-artifacts/vm.log
  vm_status=${PIPESTATUS[0]}
  [ "$vm_status" = 0 ] || status=$vm_status
  cat test-artifacts/vm.log >> test-artifacts/tap.log
  echo "== isolation guard: the user's stack after the run"
  guard end test-artifacts/tap.log || status=1
fi
set -e
# tap ends with "# { total: N, pass: P, fail: F }"; restate it as a plain closing line.
# (one summary line per tap run: the guard's halves and the VM matrix add theirs)
pass=0; fail=0
while read -r summary; do
  pass=$((pass + $(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")))
  fail=$((fail + $(sed -nE 's/.*fail: ([0-9]+).*/\1/p;t;s/.*/0/p' <<<"$summary")))
done < <(grep -E '^# \{ total: [0-9]+' test-artifacts/tap.log)
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$status"
