# Sourced by test.sh and bench.sh: the tests and the benchmarks run against a stack of their own
# (its own state directory and ports), never the user's, and the isolation guard
# (test/isolation/begin.ts and end.ts) shows afterwards that the user's stack was left as it was.

fw() { node bin/filewarden.js "$@"; }

# own_stack_lock SCRIPT ARGS...: runs the script again under a lock, once: one test run or stack
# benchmark at a time, since they share the isolation guard's view of the user's stack and their
# own stacks' ports. flock(1) keeps the lock out of the children (close-on-exec), so a server that
# a run starts never holds it after the run.
own_stack_lock() {
  [ -n "${FILEWARDEN_OWN_STACK_LOCK:-}" ] && return 0
  export FILEWARDEN_OWN_STACK_LOCK=/run/lock/filewarden-own-stack.lock
  mkdir -p /run/lock
  local rc=0
  flock -n -E 75 "$FILEWARDEN_OWN_STACK_LOCK" bash "$@" || rc=$?
  if [ "$rc" = 75 ]; then echo "another npm test or stack benchmark is running (it holds $FILEWARDEN_OWN_STACK_LOCK)" >&2; fi
  exit "$rc"
}

# own_stack NAME REDIS_PORT ES_PORT ES_TRANSPORT_PORT [STACK UP OPTIONS...]: starts (or reuses) the
# stack in <user state dir>-NAME on those ports and points every filewarden command of this shell
# at it. Called again with another NAME, it switches to that stack; own_stack_down stops each one
# this shell started.
own_stack_started=()
own_stack() {
  local name=$1 redis_port=$2 es_port=$3 transport_port=$4
  shift 4

  # The user's stack: whatever filewarden would use right now (FILEWARDEN_STATE_DIR, or the default).
  if [ -z "${FILEWARDEN_USER_STATE_DIR:-}" ]; then
    FILEWARDEN_USER_STATE_DIR=$(node -e 'console.log(require("./dist/stack/src").defaultStateDir())')
    export FILEWARDEN_USER_STATE_DIR
  fi
  export FILEWARDEN_STATE_DIR="$FILEWARDEN_USER_STATE_DIR-$name"
  for v in FILEWARDEN_REDIS_URL FILEWARDEN_ELASTICSEARCH_URL FILEWARDEN_REDIS_PASSWORD_FILE; do
    if [ -n "${!v:-}" ]; then echo "$name: ignoring $v: the $name run uses its own stack" >&2; unset "$v"; fi
  done
  if ! fw stack status >/dev/null 2>&1; then own_stack_started+=("$FILEWARDEN_STATE_DIR"); fi
  echo "== $name stack in $FILEWARDEN_STATE_DIR (the user's, $FILEWARDEN_USER_STATE_DIR, is not used)"
  # Each step's failure is the function's (it may be called where set -e does not apply).
  fw stack up --redis-port "$redis_port" --es-port "$es_port" --es-transport-port "$transport_port" "$@" || return 1
  fw stack status || return 1
}

# Stops the stacks own_stack started (one that was already running is left as it was).
own_stack_down() {
  local dir
  for dir in "${own_stack_started[@]}"; do FILEWARDEN_STATE_DIR=$dir fw stack down || true; done
  own_stack_started=()
}

# guard begin|end LOG: the isolation guard's halves, each a tap run whose output goes to LOG too.
# The second half runs only after a first half that passed (it releases what that one started), and
# also when the run is cut short (guard_release, from the EXIT trap).
guard_begun=0
guard() {
  export FILEWARDEN_ISOLATION_FILE="${FILEWARDEN_ISOLATION_FILE:-test-artifacts/isolation-guard.json}"
  mkdir -p test-artifacts
  if [ "$1" = begin ]; then
    rm -f "$FILEWARDEN_ISOLATION_FILE"
  elif [ "$guard_begun" != 1 ]; then
    echo "isolation guard: its first half did not pass, so there is nothing to compare" >&2
    return 1
  fi
  local rc
  npx --no-install tap --timeout 900 "test/isolation/$1.ts" 2>&1 | tee -a "$2"
  rc=${PIPESTATUS[0]}
  if [ "$1" = begin ] && [ "$rc" = 0 ]; then guard_begun=1; fi
  if [ "$1" = end ]; then guard_begun=0; fi
  return "$rc"
}

# From the EXIT trap: a run cut short between the halves still stops and removes what the first
# half started or made (the second half's teardown does it; its verdict is moot then).
guard_release() {
  if [ "$guard_begun" = 1 ]; then guard end /dev/null >/dev/null 2>&1 || true; fi
}
