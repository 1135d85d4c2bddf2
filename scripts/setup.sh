#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine: Debian packages, npm dependencies and the build.
# Each step is skipped when already done, so the README's commands can run it every time.
# Maven artifacts (the Elasticsearch distribution) are fetched by `filewarden stack up` on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { [ "${FILEWARDEN_SETUP_QUIET:-}" = 1 ] || echo "setup: $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
# redis-server: the stack's Redis. openjdk-17-jdk-headless + maven: Elasticsearch and its module.
# nftables: nft, the firewall that closes the stack's ports to other local users.
# unzip: unpacks the distribution. procps/iproute2: pids and ports in hints and tests.
# clang/llvm/bpftool/make/g++: the BPF object and the addon. dpkg-dev/bzip2/xz-utils/zlib1g-dev:
# unpack and build Debian's libbpf, elfutils and zlib sources for static linking.
# strace: ground truth for the kernel tests' workload.
# python3: the kernel tests' workload (it can call openat with a dirfd).
# qemu-system-x86, busybox-static: the VM kernel matrix (test/vm) boots Debian's kernels under qemu.
# chromium + fonts-dejavu-core: `filewarden report --format pdf`. poppler-utils: the report test
# counts the PDF's pages and reads their text.
APT_PACKAGES=(redis-server nftables openjdk-17-jdk-headless maven unzip procps iproute2 ca-certificates qemu-system-x86 busybox-static
  clang llvm bpftool make g++ dpkg-dev bzip2 xz-utils zlib1g-dev python3 strace chromium fonts-dejavu-core poppler-utils)
# FILEWARDEN_SETUP_PROFILE=build (docker/Dockerfile): only what building needs, no services or test tools.
if [ "${FILEWARDEN_SETUP_PROFILE:-}" = build ]; then
  APT_PACKAGES=(ca-certificates clang llvm bpftool make g++ dpkg-dev bzip2 xz-utils zlib1g-dev python3)
fi
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
# Each step is skipped when nothing it reads is newer than what it produced.
stale() { local out=$1; shift; [ ! -e "$out" ] || [ -n "$(find "$@" -newer "$out" -type f -print -quit)" ]; }

scripts/build-static-libs.sh build/static
skel=build/bpf/syscalls.skel.h
if stale "$skel" bpf build/static/.stamp; then
  say "building the BPF object"
  make -s -C bpf
fi
addon=native/build/Release/filewarden_native.node
if stale "$addon" native/src native/binding.gyp bpf/include build/bpf build/static/.stamp; then
  say "building the native addon"
  # Node's headers come from the system package (/usr/include/node): no download.
  nodedir=()
  [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ] && nodedir=(--nodedir=/usr)
  (cd native && npx --no-install node-gyp rebuild "${nodedir[@]}" --loglevel=error)
fi
if stale dist/.tsbuildinfo contract cli stack collector indexer kibana bench test/vm/guest tsconfig.json package.json; then
  say "building TypeScript"
  npx --no-install tsc -p tsconfig.json
fi
