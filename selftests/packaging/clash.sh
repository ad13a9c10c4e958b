#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Do our packages clash with Debian's archive?  TAP lines on stdout
# ("ok NAME" or "not ok NAME": selftests/packaging/run.sh numbers them).
#
#   selftests/packaging/clash.sh DEB...
#
# For bullseye, bookworm, trixie and sid (main, contrib, non-free; amd64
# and all), from the archive's own package lists and Contents files:
#   - no package of the archive is named, or provides, a name of ours
#     (Debian's tcptrace 6.6.7, a pcap analyser, is why the CLI is tcpwhy);
#   - no file of ours is a file of any package there;
#   - no command of ours (a file in a bin or sbin directory) has the name
#     of a command there, in any of those directories.
# Controls: the same lookups must find bash, package and command, in each
# suite's lists, or a mirror answering with empty or wrong files would
# pass.  Where Debian's tcptrace is found is printed (not in sid today).
#
# The lists are cached in /var/cache/tcptrace/archive (about 230 MB) and
# fetched again when the archive's copy is newer (curl -z).  Without a
# network, a cached copy is used and said so; without either, it fails.
# Exits 1 if any check failed.
#
# Environment: TCPTRACE_MIRROR (http://deb.debian.org/debian),
#              TCPTRACE_ARCHIVE_CACHE
set -uo pipefail
bad=0

mirror=${TCPTRACE_MIRROR:-http://deb.debian.org/debian}
cache=${TCPTRACE_ARCHIVE_CACHE:-/var/cache/tcptrace/archive}
suites="bullseye bookworm trixie sid"
comps="main contrib non-free"
# the directories a command is looked up in
bin_re='(usr/)?(local/)?(s?bin|games)'

[ $# -gt 0 ] || { echo "usage: clash.sh DEB..." >&2; exit 2; }
mkdir -p "$cache"

fetch() {	# fetch URL FILE: FILE is the newest copy, or a cached one
	local tmp=$2.part
	# a network that drops packets fails in seconds, not hours
	if curl -sSfL --connect-timeout 15 --retry 1 --max-time 300 \
		-z "$2" -o "$tmp" "$1" 2>"$tmp.err"; then
		# 304 Not Modified writes no file
		if [ -s "$tmp" ]; then mv "$tmp" "$2"; fi
		rm -f "$tmp" "$tmp.err"
		[ -s "$2" ] && return 0
		echo "# $1: empty"
		return 1
	fi
	rm -f "$tmp"
	if [ -s "$2" ]; then
		echo "# $1: $(cat "$tmp.err"); using the cached copy of $(date -r "$2" +%F)"
		rm -f "$tmp.err"
		return 0
	fi
	echo "# $1: $(cat "$tmp.err")"
	rm -f "$tmp.err"
	return 1
}

lists=()
contents=()
missing=()
for s in $suites; do
	for c in $comps; do
		f=$cache/$s-$c-Packages.xz
		if fetch "$mirror/dists/$s/$c/binary-amd64/Packages.xz" "$f"; then
			lists+=("$f")
		else
			missing+=("$s/$c Packages")
		fi
		for a in amd64 all; do
			f=$cache/$s-$c-Contents-$a.gz
			if fetch "$mirror/dists/$s/$c/Contents-$a.gz" "$f"; then
				contents+=("$f")
			else
				missing+=("$s/$c Contents-$a")
			fi
		done
		# one unreachable file: the next 35 would time out as well
		if [ ${#missing[@]} -gt 0 ]; then break 2; fi
	done
done
if [ ${#missing[@]} -gt 0 ]; then
	bad=1
	echo "not ok the archive's lists: cannot fetch ${missing[*]}"
	exit 1
fi

# ours: package names, then files and symbolic links (not directories)
names=()
files=()
for deb in "$@"; do
	names+=("$(dpkg-deb -f "$deb" Package)")
	while read -r path; do
		files+=("$path")
	done < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' |
		sed 's#^\./##')
done
cmds=()
for f in "${files[@]}"; do
	if [[ $f =~ ^$bin_re/[^/]+$ ]]; then cmds+=("${f##*/}"); fi
done

# ERE-quote a name (package names and paths have . + and the like)
quote() { sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1"; }
alt() {	# alt WORD...: (w1|w2|...) quoted
	local w out=
	for w in "$@"; do out+="${out:+|}$(quote "$w")"; done
	echo "($out)"
}
found=$(mktemp)
trap 'rm -f "$found"' EXIT
scan() {	# scan DECOMPRESS ERE FILE...: matching lines, "FILE: LINE"
	local f z=$1 re=$2
	shift 2
	for f in "$@"; do
		"$z" -dc "$f" | grep -E "$re" | sed "s#^#${f##*/}: #"
	done
}
# Each suite's own lists must show bash (Package: bash, a bash in a bin
# directory): an empty, truncated or wrong file (a captive portal's page)
# then fails instead of passing for want of a match.
control() {	# control WHAT LINE-ERE-AFTER-SUITE FILE-SUFFIX
	local s miss=()
	for s in $suites; do
		grep -qE "^$s-main-$3: $2" "$found" || miss+=("$s")
	done
	if [ ${#miss[@]} -eq 0 ]; then
		echo "ok $1 (control)"
	else
		bad=1
		echo "not ok $1 (control): not in ${miss[*]}"
	fi
}
none() {	# none WHAT HITS: ok if no line, else not ok with the lines
	if [ -z "$2" ]; then
		echo "ok $1"
	else
		bad=1
		echo "not ok $1"
		sed 's/^/#   /' <<<"$2" | head -n 20
	fi
}

# 1. package names: Package: and Provides: lines
re="^(Package: $(alt "${names[@]}" bash tcptrace)\$|Provides:.*[ ,]$(alt "${names[@]}")( |,|\$))"
scan xz "$re" "${lists[@]}" >"$found"
none "no package in ${suites// /, } is named or provides ${names[*]}" \
	"$(grep -E "^[^ ]+: (Package: $(alt "${names[@]}")\$|Provides:)" "$found")"
control "each suite's package list has bash" "Package: bash\$" Packages.xz
echo "# Debian's tcptrace package, in: $(sed -n 's/-main-Packages.xz: Package: tcptrace$//p' "$found" | sort -u | xargs)"

# Contents lines are "PATH   SECTION/PACKAGE,...": one pass over each
# keeps the lines of our paths and of the commands' names (and tcptrace)
re="^($(alt "${files[@]}")|$bin_re/$(alt "${cmds[@]}" bash tcptrace))[[:space:]]"
scan gzip "$re" "${contents[@]}" >"$found"

# 2. files
none "none of our ${#files[@]} files is in a package of ${suites// /, }" \
	"$(grep -E "^[^ ]+: $(alt "${files[@]}")[[:space:]]" "$found")"

# 3. commands: no file of that name in any bin or sbin directory
if [ ${#cmds[@]} -eq 0 ]; then
	bad=1
	echo "not ok no command of the archive is named as ours: we ship none?"
else
	none "no command of the archive is named ${cmds[*]}" \
		"$(grep -E "^[^ ]+: $bin_re/$(alt "${cmds[@]}")[[:space:]]" "$found")"
fi
control "the same lookup finds bash in each suite" \
	"$bin_re/bash[[:space:]]+shells/bash\$" Contents-amd64.gz
echo "# Debian's tcptrace command, in: $(grep -E "^[^ ]+: $bin_re/tcptrace[[:space:]]" "$found" | cut -d- -f1 | sort -u | xargs)"
exit $bad
