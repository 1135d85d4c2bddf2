#!/usr/bin/env bash
# `npm run bench:<name>`: runs one benchmark. Those that need Redis and Elasticsearch get the
# benchmarks' own stack (<user state dir>-bench, its own ports), between the two halves of the
# isolation guard, so a benchmark can never leave anything in the user's stack.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/bench.sh <capture|chain|trust|glob|pipeline|enforcement|operations|redis-wait> [args]}
shift
[ -f "bench/$name.ts" ] || { echo "bench: no benchmark named $name (see bench/)" >&2; exit 2; }
bash scripts/setup.sh
case "$name" in
  pipeline|enforcement|redis-wait) ;;
  *) exec node "dist/bench/$name.js" "$@" ;;
esac
source scripts/own-stack.sh
own_stack_lock scripts/bench.sh "$name" "$@"
trap 'guard_release; own_stack_down' EXIT
own_stack bench 26380 29200 29300
export FILEWARDEN_ISOLATION_FILE=test-artifacts/isolation-guard-bench.json
log=test-artifacts/bench-$name-guard.log
: > "$log"
guard begin "$log" || exit 1
status=0
node "dist/bench/$name.js" "$@" || status=$?
guard end "$log" || status=1
exit "$status"
