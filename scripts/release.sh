#!/usr/bin/env bash
# Builds the release binary DIR/bluegreen-linux-amd64 (DIR defaults to dist)
# and its DIR/bluegreen-linux-amd64.sha256: statically linked, SQLite (cgo)
# included, so it runs on any x86-64 Linux, even in a FROM scratch image. The
# version is `git describe --tags --always --dirty`, or $VERSION when set.
#
# Needs Go, a C compiler and the static C library (Debian: gcc and libc6-dev).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist}
name=bluegreen-linux-amd64

fail() {
  echo "release: $*" >&2
  exit 1
}

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || true)}
[ -n "$version" ] || fail "no version: this is not a git checkout; set VERSION=... and run again"
[[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || fail "version \"$version\": use letters, digits and . _ + -"

cc=${CC:-gcc}
if [ "$(go env GOHOSTARCH)" != amd64 ] && [ -z "${CC:-}" ]; then
  fail "this host is $(go env GOHOSTARCH): set CC to an x86-64 C cross compiler (Debian: gcc-x86-64-linux-gnu, CC=x86_64-linux-gnu-gcc)"
fi
command -v "$cc" >/dev/null 2>&1 || fail "C compiler \"$cc\" not found: SQLite is linked with cgo (Debian: apt-get install gcc libc6-dev)"

mkdir -p "$out"
tmp=$(mktemp "$out/.$name.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# osusergo,netgo: Go's own user and DNS lookups instead of glibc's, which
# would need glibc's shared libraries at run time even in a static binary.
# sqlite_omit_load_extension: no dlopen (SQLite extensions are not used).
tags=osusergo,netgo,sqlite_omit_load_extension
ldflags="-s -w -linkmode external -extldflags -static -X github.com/bluegreen/bluegreen/cli.Version=$version"
if ! log=$(CGO_ENABLED=1 GOOS=linux GOARCH=amd64 CC="$cc" go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$tmp" . 2>&1); then
  echo "$log" >&2
  if grep -q -- '-lc\b\|-lpthread\|-ldl' <<<"$log"; then
    fail "static link failed: install the static C library (Debian: apt-get install libc6-dev)"
  fi
  fail "go build failed"
fi
# A glibc function that needs shared libraries at run time makes the linker
# warn, and the binary would then fail where those libraries differ.
if grep -i 'statically linked applications requires at runtime' <<<"$log" >&2; then
  fail "the static binary would need glibc's shared libraries at run time (see the warning above)"
fi
[ -z "$log" ] || echo "$log" >&2

if command -v file >/dev/null 2>&1; then
  desc=$(file -b "$tmp")
  case $desc in
    *"statically linked"* | *"static-pie linked"*) ;;
    *) fail "$name is not statically linked: $desc" ;;
  esac
fi

chmod 0755 "$tmp"
mv -f "$tmp" "$out/$name"
(cd "$out" && sha256sum "$name" >"$name.sha256")
echo "built $out/$name ($version, $(du -h "$out/$name" | cut -f1))"
