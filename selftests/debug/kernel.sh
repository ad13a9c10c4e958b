#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the debug guest kernel: Debian's linux-source-6.12 with
# x86_64 defconfig plus selftests/debug/config (PREEMPT_RT, lockdep,
# atomic-sleep checks, PROVE_RCU, KASAN, kmemleak, and everything the guest
# suites need built in).  `make debug-kernel` runs this.
#
# The result is cached under $TCPTRACE_DEBUG_CACHE (/var/cache/tcptrace/
# debug-kernel), keyed by the source package, the config fragment and
# KASAN's scope (below):
#   <key>/build                  the kernel build tree (KDIR for the module)
#   <key>/vmlinux                PVH-bootable image for selftests/vm/run-vm.sh
#   <key>/lib/modules/<release>  modules.builtin & co. (VM_KERNEL_ROOT=<key>)
#   <key>/release                the kernel release string
#   <key>/build-seconds          how long the cold build took
# The last line printed is the build tree.
#
# Environment: DEBUG_KERNEL_JOBS (make -j, default nproc + 1),
#              TCPTRACE_DEBUG_TARBALL (/usr/src/linux-source-6.12.tar.xz)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TCPTRACE_DEBUG_CACHE:-/var/cache/tcptrace/debug-kernel}
tarball=${TCPTRACE_DEBUG_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
fragment=$here/config
# KASAN instruments the module and the kernel code it calls into or
# shares objects with: the network stack and the tracing ring buffer.
# The rest of the kernel is built without KASAN's checks (its allocator
# still poisons freed memory and slab red zones, so the module's own bad
# accesses to heap objects anywhere are caught): those checks made the
# cold build about half again as long and slowed every guest, for code
# the module never runs.
kasan_dirs=(net kernel/trace)
# KASAN_SANITIZE=n comes from the environment at build time; a kbuild
# file's own setting wins over it, so each directory of these trees turns
# it back on in the file kbuild reads there (Kbuild, else Makefile),
# unless that file already sets it.
kasan_scope() {	# kasan_scope SRC DIR...
	local src=$1 d f
	shift
	for d in "$@"; do
		find "$src/$d" -type d | while read -r d; do
			f=$d/Kbuild
			[ -e "$f" ] || f=$d/Makefile
			[ -e "$f" ] || continue
			grep -qE '^[[:space:]]*(override[[:space:]]+)?KASAN_SANITIZE[[:space:]]*[:?+]?=' "$f" ||
				printf '\n# tcptrace debug kernel: KASAN here\nKASAN_SANITIZE := y\n' >>"$f"
		done
	done
}
jobs=${DEBUG_KERNEL_JOBS:-$(($(nproc) + 1))}

log() { echo "debug-kernel: $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

need=()
for p in gcc make flex bison bc xz-utils libc6-dev libelf-dev libssl-dev \
	cpio kmod; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ -r "$tarball" ] || need+=(linux-source-6.12)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null >&2; then
		apt-get update -q </dev/null >&2
		apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null >&2 ||
			die "cannot install ${need[*]}"
	fi
fi
[ -r "$tarball" ] || die "no kernel source: $tarball"

key=$({
	stat -L -c '%n %s %Y' "$tarball"
	cat "$fragment"
	echo "kasan: ${kasan_dirs[*]}"
	declare -f kasan_scope
} | sha256sum | cut -c1-16)
dir=$cache/$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

# Did the scope take?  An object of net/ must carry KASAN's flags and one
# of the scheduler must not, or the build proves other than it says.
kasan_check() {	# kasan_check BUILD
	grep -q -- '-fsanitize=kernel-address' "$1/net/ipv4/.tcp_input.o.cmd" ||
		die "net/ipv4/tcp_input.o was built without KASAN"
	! grep -q -- '-fsanitize=kernel-address' "$1/kernel/sched/.core.o.cmd" ||
		die "kernel/sched/core.o was built with KASAN: the scope did not take"
}

if [ -s "$dir/release" ] && [ -s "$dir/vmlinux" ] && [ -d "$dir/build" ]; then
	kasan_check "$dir/build"
	log "reusing $(cat "$dir/release") in $dir"
	echo "$dir/build"
	exit 0
fi

# Keep only the newest other build: each is ~2 GB.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -printf '%T@ %p\n' |
	sort -rn | tail -n +2 | cut -d' ' -f2- | xargs -r rm -rf

t0=$SECONDS
# Built in place: the build tree's generated Makefile names the source by
# absolute path.  An interrupted build resumes (make is incremental); the
# release file, written last, marks a finished one.
src=$dir/src
obj=$dir/build
if [ ! -s "$src/Makefile" ]; then
	rm -rf "$dir"
	mkdir -p "$src.tmp" "$obj"
	log "extracting $tarball"
	tar -xaf "$tarball" -C "$src.tmp" --strip-components=1
	kasan_scope "$src.tmp" "${kasan_dirs[@]}"
	mv "$src.tmp" "$src"
fi

log "configuring (defconfig + $fragment)"
make -s -C "$src" O="$obj" x86_64_defconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment" >&2
make -s -C "$src" O="$obj" olddefconfig >&2
# merge_config only warns when Kconfig refuses a value: the run would then
# prove less than it claims, so a missing debug option is an error.
missing=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=y) grep -qx "$line" "$obj/.config" || missing+=("$line") ;;
	esac
done <"$fragment"
[ ${#missing[@]} -eq 0 ] || die "Kconfig refused: ${missing[*]}"

log "building with -j$jobs (a cold build takes ~23 min on 2 cores)"
KASAN_SANITIZE=n make -s -C "$src" O="$obj" -j"$jobs" vmlinux modules >&2 ||
	die "kernel build failed"
KASAN_SANITIZE=n make -s -C "$src" O="$obj" INSTALL_MOD_PATH="$dir" \
	modules_install >&2 ||
	die "modules_install failed"
release=$(make -s -C "$src" O="$obj" kernelrelease)
kasan_check "$obj"
cp "$obj/vmlinux" "$dir/vmlinux"
echo $((SECONDS - t0)) >"$dir/build-seconds"
echo "$release" >"$dir/release"
log "built $release in $(cat "$dir/build-seconds") s"
echo "$dir/build"
