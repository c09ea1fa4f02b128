#!/usr/bin/env bash
# Builds a static libkmod for the fully static gpu-hook. Debian ships no
# libkmod.a, so this fetches Debian's own kmod source package (through a
# private deb-src list that leaves the machine's apt setup untouched),
# configures it with the paths Debian uses (libkmod compiles in
# SYSCONFDIR/modprobe.d), and keeps libkmod-internal.a + libshared.a, which
# link statically together (kmod's configure refuses --enable-static).
#   hook/static/libkmod.sh OUTDIR     -> OUTDIR/lib/libkmod.a, OUTDIR/include/libkmod.h
set -euo pipefail
out=$(mkdir -p "$1" && cd "$1" && pwd)
[ -f "$out/lib/libkmod.a" ] && [ -f "$out/include/libkmod.h" ] && exit 0
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../tests/deps" autoconf automake libtool liblzma-dev libzstd-dev dpkg-dev >/dev/null

work=$out/src
rm -rf "$work"
mkdir -p "$work/lists/partial"
. /etc/os-release
uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
uri=${uri:-http://deb.debian.org/debian}
cat >"$work/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $VERSION_CODENAME main
SRC
apt=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists="$work/lists")
apt-get "${apt[@]}" update -qq || { echo "libkmod.sh: apt-get update of the deb-src list failed" >&2; exit 1; }
(cd "$work" && apt-get "${apt[@]}" source --download-only -qq kmod) \
	|| { echo "libkmod.sh: cannot fetch Debian's kmod source package" >&2; exit 1; }
tarball=$(ls "$work"/kmod_*.orig.tar.* | head -n1)
mkdir -p "$work/kmod"
tar -xf "$tarball" -C "$work/kmod" --strip-components=1
cd "$work/kmod"
# The orig tarball is a git snapshot: no configure, and gtk-doc's makefile is expected.
mkdir -p libkmod/docs
: >libkmod/docs/gtk-doc.make
autoreconf -fi >/dev/null 2>&1
./configure -q --prefix=/usr --sysconfdir=/etc --with-xz --with-zstd --without-openssl \
	--disable-manpages --disable-tools --disable-test-modules CFLAGS="-O2 -fPIC" >/dev/null
make -s -j"$(nproc)" >/dev/null 2>&1 || make -j"$(nproc)"
mkdir -p "$out/lib" "$out/include"
# Both archives, as one: libkmod's code and the helpers it calls.
ar -M <<AR
create $out/lib/libkmod.a
addlib libkmod/.libs/libkmod-internal.a
addlib shared/.libs/libshared.a
save
end
AR
cp libkmod/libkmod.h "$out/include/"
echo "libkmod.sh: $(sed -n 's/^PACKAGE_VERSION = //p' Makefile) -> $out/lib/libkmod.a"
