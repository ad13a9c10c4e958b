#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run tcptrace's KUnit suites (module/tests/*.c) in a UML kernel.
#
# Debian kernels have no CONFIG_KUNIT, so this builds one: the newest
# kernel source Debian has (linux-source-7.x of trixie-backports, fetched
# by selftests/vm/fetch-kernel.sh --source; bookworm's linux-source-6.1
# when it cannot be had) is extracted once into a cache, the
# repo's module/ directory is linked into it as drivers/misc/tcptrace/module
# (glue files: selftests/kunit/kernel/), and the kernel's own
# tools/testing/kunit/kunit.py configures, builds and boots it.  The tests
# are linked with the module's real sources (all but main.c and probes.c;
# see selftests/kunit/kernel/Makefile).
#
# A cold run (extract + full UML build) takes ~10 minutes on 2 cores; later
# runs rebuild only what changed (seconds).
#
# Exit status: 0 only if the build succeeded, the kernel ran to the end and
# every test case passed.  The last line is "N passed, N failed".
#
# Environment:
#   TCPTRACE_KUNIT_CACHE    cache directory (/var/cache/tcptrace/kunit)
#   TCPTRACE_KUNIT_TARBALL  kernel source (default: see above)
#   KUNIT_JOBS              make -j (number of CPUs)
#   KUNIT_TIMEOUT           seconds the test kernel may run (300)
#   KUNIT_ARGS              extra kunit.py arguments, e.g.
#                           "tcptrace_record.*" (kunit.py takes the
#                           filter glob as a positional argument)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${TCPTRACE_KUNIT_CACHE:-/var/cache/tcptrace/kunit}
fallback=/usr/src/linux-source-6.1.tar.xz
build=$cache/build
jobs=${KUNIT_JOBS:-$(nproc)}
timeout=${KUNIT_TIMEOUT:-300}
suites="tcptrace_options tcptrace_record tcptrace_packet tcptrace_conntable"

log() { echo "kunit: $*" >&2; }
die() {
	log "$*"
	echo "0 passed, 0 failed"
	exit 1
}

# kunit.py needs only the standard library; prefer the distribution's
# python over whatever (pyenv, venv) comes first in PATH.
if [ -x /usr/bin/python3 ]; then
	python=/usr/bin/python3
else
	python=python3
fi

# --- packages ----------------------------------------------------------
need=()
for p in gcc make flex bison bc xz-utils libc6-dev python3; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ -n "${TCPTRACE_KUNIT_TARBALL:-}" ] || [ -r "$fallback" ] ||
	need+=(linux-source-6.1)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q "${need[@]}" </dev/null; then
		apt-get update -q </dev/null
		apt-get install -y -q "${need[@]}" </dev/null ||
			die "cannot install ${need[*]}"
	fi
fi
# --- which kernel source --------------------------------------------------
# The newest Debian has (trixie-backports' linux-source-7.x: the newest
# kernel of the guest matrix), fetched into a cache and never installed;
# bookworm's 6.1 if that cannot be had, said on the output.
tarball=${TCPTRACE_KUNIT_TARBALL:-}
if [ -z "$tarball" ]; then
	tarball=$("$repo/selftests/vm/fetch-kernel.sh" --source trixie-backports) ||
		tarball=
	if [ -z "$tarball" ]; then
		echo "# kunit: trixie-backports' kernel source cannot be had; testing on $fallback"
		tarball=$fallback
	fi
fi
[ -r "$tarball" ] || die "no kernel source: $tarball"
name=$(basename "$tarball" .tar.xz)
ksrc=$cache/$name
echo "# kunit: kernel source $name ($tarball)"

mkdir -p "$cache"
# One run at a time per cache: the tree and the build dir are shared.
exec 9>"$cache/.lock"
flock 9

# --- kernel source -----------------------------------------------------
# Extracted into a temporary directory, stamped, then renamed: a tree
# without the stamp (interrupted run, other tarball) is never used.
stamp_want="$(stat -c '%n %s %Y' "$tarball")"
if [ "$(cat "$ksrc/.tcptrace-extracted" 2>/dev/null)" != "$stamp_want" ]; then
	log "extracting $tarball into $cache"
	# one tree at a time: another source's tree (stamped) and build go
	for t in "$cache"/*/.tcptrace-extracted; do
		if [ -e "$t" ]; then
			rm -rf "${t%/.tcptrace-extracted}"
		fi
	done
	rm -rf "$cache"/.extract.* "$ksrc" "$build"
	tmp=$(mktemp -d "$cache/.extract.XXXXXX")
	tar -xJf "$tarball" -C "$tmp"
	[ -f "$tmp/$name/Makefile" ] || die "$tarball has no $name/"
	echo "$stamp_want" >"$tmp/$name/.tcptrace-extracted"
	mv "$tmp/$name" "$ksrc"
	rmdir "$tmp"
fi

# --- glue: drivers/misc/tcptrace -> the repo ---------------------------
glue=$ksrc/drivers/misc/tcptrace
mkdir -p "$glue"
for f in Kconfig Makefile; do
	# copy only on change: a new mtime would make kbuild reconfigure
	cmp -s "$here/kernel/$f" "$glue/$f" || cp "$here/kernel/$f" "$glue/$f"
done
# Objects built from another checkout may look newer than this one's
# sources: forget them when the link changes.
if [ "$(readlink "$glue/module" 2>/dev/null)" != "$repo/module" ]; then
	ln -sfn "$repo/module" "$glue/module"
	rm -rf "$build/drivers/misc/tcptrace"
fi
grep -qxF 'source "drivers/misc/tcptrace/Kconfig"' "$ksrc/drivers/misc/Kconfig" ||
	echo 'source "drivers/misc/tcptrace/Kconfig"' >>"$ksrc/drivers/misc/Kconfig"
# shellcheck disable=SC2016 # a make variable, not a shell one
obj='obj-$(CONFIG_TCPTRACE_KUNIT_TEST) += tcptrace/'
grep -qxF "$obj" "$ksrc/drivers/misc/Makefile" ||
	echo "$obj" >>"$ksrc/drivers/misc/Makefile"

# --- configure, build, boot, parse ------------------------------------
mkdir -p "$build"
json=$build/tcptrace-results.json
rm -f "$json" "$build/test.log"
start=$(date +%s)
set +e
# shellcheck disable=SC2086 # KUNIT_ARGS is a list of words
"$python" "$ksrc/tools/testing/kunit/kunit.py" run \
	--kunitconfig="$here/.kunitconfig" \
	--build_dir="$build" \
	--jobs="$jobs" \
	--timeout="$timeout" \
	--json="$json" \
	${KUNIT_ARGS:-} </dev/null 2>&1 | grep -v "^stty: 'standard input'"
kunit_rc=${PIPESTATUS[0]}
set -e
log "kunit.py exited $kunit_rc after $(($(date +%s) - start))s"

# kunit.py's log of the kernel's console; the next boot would overwrite it
out=$build/tcptrace-console.log
rm -f "$out"
[ ! -f "$build/test.log" ] || cp "$build/test.log" "$out"
if [ -s "$out" ]; then
	echo "---- KTAP ($out) ----"
	"$python" "$ksrc/tools/testing/kunit/kunit.py" parse \
		--raw_output=kunit "$out" || true
	echo "---- end of KTAP ----"
fi

[ -s "$json" ] || die "no test results: build or boot failed (kunit.py exit $kunit_rc)"

# The KTAP of a test that crashed or hung has no name in it: ask the
# kernel for its list of tests to name the ones without a result.
names=$build/tcptrace-tests.txt
rm -f "$names"
if [ "$kunit_rc" -ne 0 ] && [ -z "${KUNIT_ARGS:-}" ]; then
	echo "---- the kernel's last words ($out) ----"
	tail -n 40 "$out" 2>/dev/null || true
	echo "----"
	"$python" "$ksrc/tools/testing/kunit/kunit.py" exec --list_tests \
		--kunitconfig="$here/.kunitconfig" --build_dir="$build" \
		--timeout=60 </dev/null 2>/dev/null | grep -E '^[^ .]+\.[^ .]+$' \
		>"$names" || true
fi

# Count test cases; name every one that did not pass.  One that has no
# result (the kernel crashed or hung in it or before it) counts as failed.
required=$suites
[ -z "${KUNIT_ARGS:-}" ] || required=""	# a filter may leave suites out
counts=$("$python" - "$json" "$required" "$names" <<'PY'
import json
import sys

res = json.load(open(sys.argv[1]))
want = sys.argv[2].split()
listed = {}
try:
    for line in open(sys.argv[3]):
        suite, test = line.strip().split('.', 1)
        listed.setdefault(suite, []).append(test)
except (OSError, ValueError):
    pass
passed = failed = skipped = 0
seen = set()
first_missing = True


def fail(name, why):
    global failed
    failed += 1
    print('kunit: FAILED %s (%s)' % (name, why), file=sys.stderr)


def walk(group, suite):
    global passed, skipped, first_missing
    for sub in group.get('sub_groups', []):
        seen.add(sub['name'])
        walk(sub, sub['name'])
    for i, case in enumerate(group.get('test_cases', [])):
        status = case['status']
        name = case['name']
        if not name and i < len(listed.get(suite, [])):
            name = listed[suite][i]
        name = '%s.%s' % (suite, name or '<missing #%d>' % (i + 1))
        if status == 'PASS':
            passed += 1
        elif status == 'SKIP':
            skipped += 1
        elif status == 'FAIL':
            fail(name, 'failed')
        elif not case['name'] and first_missing:
            # Results are printed in order, but the console may lag: the
            # kernel died in this test or in one of the next few.
            first_missing = False
            fail(name, 'no result: the kernel crashed or hung in this test'
                 ' or soon after it')
        elif not case['name']:
            fail(name, 'no result')
        else:
            fail(name, 'crashed')


walk(res, '')
for s in want:
    if s in seen:
        continue
    if listed.get(s):
        for t in listed[s]:
            fail('%s.%s' % (s, t), 'did not run')
    else:
        fail(s, 'suite did not run')
print(passed, failed, skipped)
PY
) || die "cannot read $json"
read -r npass nfail nskip <<<"$counts"

rc=0
if [ "$nfail" -ne 0 ]; then
	log "$nfail test case(s) did not pass"
	rc=1
elif [ "$npass" -eq 0 ]; then
	log "no test case ran"
	rc=1
elif [ "$kunit_rc" -ne 0 ]; then
	log "kunit.py failed (crash, timeout or bad KTAP?) though no test case did"
	rc=1
fi
line="$npass passed, $nfail failed"
[ "$nskip" -eq 0 ] || line="$line, $nskip skipped"
echo "$line"
exit $rc
