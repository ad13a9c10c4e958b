#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make deb`: build the tcptrace-dkms and tcpwhy packages (and the
# source package) with dpkg-buildpackage, in a temporary copy of this
# tree, so the checkout and its parent directory stay clean.  The results
# (.deb, .dsc, .tar.xz, .buildinfo, .changes) go to build/deb/.
#
#   packaging/build-deb.sh [OUTDIR]       (default OUTDIR: build/deb)
#
# The copy is the working tree as it is, uncommitted changes included:
# in a git checkout, the tracked and untracked-but-not-ignored files;
# otherwise everything except build/, selftests/out/ and .git/.
# Installs the build dependencies first (packaging/deps.sh build).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
PROG=build-deb

"$top/packaging/deps.sh" build

version=$("$top/packaging/dkms-source.sh" version)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tcptrace-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/tcpwhy-$version
mkdir "$src"

if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# NUL-separated; a tracked file deleted in the working tree is skipped
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
		done | tar --null -T - -cf -) | tar -C "$src" -xf -
else
	tar -C "$top" --exclude=./build --exclude=./selftests/out \
		--exclude=./.git -cf - . | tar -C "$src" -xf -
fi

echo "$PROG: building tcptrace-dkms and tcpwhy $version in $src" >&2
(
	cd "$src"
	dpkg-checkbuilddeps
	dpkg-buildpackage -us -uc
)

mkdir -p "$out"
rm -f "$out"/tcptrace* "$out"/tcpwhy*
shopt -s nullglob
results=("$tmp"/tcptrace*_"$version"* "$tmp"/tcpwhy*_"$version"*)
[ "${#results[@]}" -gt 0 ] || { echo "$PROG: no packages produced" >&2; exit 1; }
cp "${results[@]}" "$out/"
echo "$PROG: results in $out:" >&2
ls -1 "$out" >&2
