#!/usr/bin/env bash
# Builds position-independent static libbpf, libelf and zlib from Debian's source packages, so the
# addon links them in and needs no libbpf.so, libelf.so or libz.so at run time.
# Debian's own .a files cannot go into a shared object: they are compiled as PIE, so libbpf.a
# reaches glibc's `stderr` PC-relative and libelf.a uses the local-exec TLS model.
# Usage: scripts/build-static-libs.sh [OUT_DIR]   (default build/static; skipped when up to date)
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned source versions: the ones Debian 12 ships as binaries, so headers and behaviour match.
ZLIB=1:1.2.13.dfsg-1
ELFUTILS=0.188-2.1
LIBBPF=1.1.2-0+deb12u1

out=$(realpath -m "${1:-build/static}")
want="zlib=$ZLIB elfutils=$ELFUTILS libbpf=$LIBBPF"
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: building static libbpf, libelf and zlib from Debian sources ($want)" >&2

work=$(realpath -m "$out/../static-src")
rm -rf "$work" "$out"
mkdir -p "$work/apt/lists/partial" "$out"

# A private deb-src list: the system's apt configuration is left untouched.
mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
cat > "$work/apt/src.sources" <<EOF
Types: deb-src
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt" -o "Dir::State::Lists=$work/apt/lists"
  -o APT::Sandbox::User=root -qq)
apt-get "${apt_opts[@]}" update
(cd "$work" && apt-get "${apt_opts[@]}" source "zlib=$ZLIB" "elfutils=$ELFUTILS" "libbpf=$LIBBPF" >/dev/null)

jobs=$(nproc)
log=$work/build.log
fail() { echo "setup: building $1 failed; the last lines of $log:" >&2; tail -20 "$log" >&2; exit 1; }

(cd "$work"/zlib-*/ && CFLAGS="-O2 -fPIC" ./configure --static --prefix="$out" && make -j"$jobs" libz.a && make install) \
  >"$log" 2>&1 || fail zlib

# Only libelf is needed from elfutils; libelf_pic.a is its position-independent archive.
(cd "$work"/elfutils-*/ &&
  CFLAGS="-O2 -fPIC" CPPFLAGS="-I$out/include" LDFLAGS="-L$out/lib" ./configure --disable-debuginfod \
    --disable-libdebuginfod --without-bzlib --without-lzma --without-zstd --disable-nls &&
  make -j"$jobs" -C lib && make -j"$jobs" -C libelf libelf_pic.a) >>"$log" 2>&1 || fail elfutils
cp "$work"/elfutils-*/libelf/libelf_pic.a "$out/lib/libelf.a"
cp "$work"/elfutils-*/libelf/{libelf.h,gelf.h,nlist.h} "$out/include/"

mkdir -p "$work/libbpf-obj"
(cd "$work"/libbpf-*/src && make -j"$jobs" BUILD_STATIC_ONLY=1 OBJDIR="$work/libbpf-obj" DESTDIR="$out" PREFIX= \
  LIBDIR=/lib INCLUDEDIR=/include EXTRA_CFLAGS="-fPIC -I$out/include" install) >>"$log" 2>&1 || fail libbpf

echo "$want" > "$out/.stamp"
rm -rf "$work"
