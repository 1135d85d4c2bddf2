#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine: Debian packages, npm dependencies and the build.
# Each step is skipped when already done, so the README's commands can run it every time.
# Maven artifacts (the Elasticsearch distribution) are fetched by `filewarden stack up` on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { [ "${FILEWARDEN_SETUP_QUIET:-}" = 1 ] || echo "setup: $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
# redis-server: the stack's Redis. openjdk-17-jdk-headless + maven: Elasticsearch and its module.
# unzip: unpacks the distribution. procps/iproute2: pids and ports in hints and tests.
APT_PACKAGES=(redis-server openjdk-17-jdk-headless maven unzip procps iproute2 ca-certificates)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- npm dependencies ------------------------------------------------------------------------
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.filewarden-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi

# --- build -------------------------------------------------------------------------------------
# tsc is incremental; skip it entirely when no source is newer than the last build.
built=dist/.tsbuildinfo
if [ ! -f "$built" ] || [ -n "$(find cli stack tsconfig.json package.json -newer "$built" \( -name '*.ts' -o -name '*.json' \) -print -quit)" ]; then
  say "building TypeScript"
  npx --no-install tsc -p tsconfig.json
fi
