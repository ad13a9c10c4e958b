#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run a command as root inside a throw-away QEMU guest booting a Debian
# kernel, with the host's root filesystem as the guest's (read-only, with a
# tmpfs overlay on top so the guest can write anywhere).
#
# Usage:
#   selftests/vm/run-vm.sh KVER SCRIPT [ARGS...]
#   selftests/vm/run-vm.sh --check-logs FILE...    (only run the kernel-splat
#                                                   check on saved logs)
#
#   KVER    an installed kernel, e.g. 6.1.0-56-amd64 (see kernels.sh)
#   SCRIPT  a program on the host filesystem (normally an absolute path),
#           run in the guest with ARGS, from the caller's current directory.
#
# Exit status: the guest command's exit status, or
#    2  usage error
#   96  host-side setup failure (kernel/initramfs preparation, qemu failed)
#   97  timeout (VM_TIMEOUT) - qemu was killed
#   98  the guest never reported an exit status (crash, panic, hang in init)
#   99  the command finished, but the kernel logged an Oops/WARNING/BUG/...
#
# Environment (all optional):
#   VM_TIMEOUT=900      seconds before qemu is killed
#   VM_SMP=1            guest vCPUs (keep 1: TCG SMP guests are flaky)
#   VM_MEM=1024         guest memory in MiB
#   VM_APPEND=...       extra kernel command line (e.g. slub_debug=FZPU)
#   VM_QEMU_ARGS=...    extra qemu arguments, word-split
#                       (e.g. "-icount shift=0,sleep=off")
#   VM_OUT_DIR=DIR      host directory to use as the result dir (kept);
#                       default: a fresh temp dir, removed on success
#   VM_KEEP_OUT=1       keep the temp result dir even on success
#   VM_CACHE_DIR=DIR    cache for extracted vmlinux + initramfs, in
#                       DIR/KVER/ (default DIR: /var/cache/tcptrace-vm)
#   VM_MACHINE=q35      qemu machine type;  VM_CPU=max  qemu cpu model
#   VM_ACCEL=tcg        qemu accelerator
#   VM_SPLAT_IGNORE=ERE lines matching this extended regex are not counted
#                       as kernel splats
#   VM_KERNEL_ROOT=DIR  boot a kernel that is not installed: DIR/vmlinux (a
#                       PVH ELF) with DIR/lib/modules/KVER, which the guest
#                       sees as /lib/modules/KVER (the debug kernel of
#                       selftests/debug/kernel.sh)
# Passed through into the guest command's environment: TCPTRACE_*, VM_*, CI.
# The guest also gets VM_OUT (guest path of the shared result dir) and
# VM_KVER; PATH, HOME=/root, TERM=dumb and LANG=C.UTF-8 are set, everything
# else is not.
#
# In the guest: the command runs as root, stdin from /dev/null, stdout and
# stderr on the serial console (shown live here, and saved in console.log).
# / is the host root read-only with a tmpfs overlay: writes anywhere work
# and vanish with the VM.  /tmp, /run and /dev/shm are fresh tmpfs; a host
# directory /tmp/NAME (or /run/NAME) holding the working directory, SCRIPT or
# an absolute-path argument is overlaid in at the same path.  lo is up;
# /lib/modules is the host's, so modprobe and module autoloading work;
# debugfs, tracefs (/sys/kernel/tracing), cgroup2 and bpffs are mounted.
#
# Result dir contents (host side; same dir is $VM_OUT in the guest):
#   console.log  everything the guest wrote to its serial console
#   dmesg.txt    the guest's full kernel log, saved after the command
#   dmesg.live   kernel log streamed while the command runs; left behind
#                only when the guest died before writing dmesg.txt
#   exit-code    the command's exit status
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
PROG=run-vm

# Where the result dir appears inside the guest.
GUEST_OUT=/run/tcptrace-vm-out
# Kernel modules the guest initramfs needs to mount its root (plus whatever
# modules.dep says they depend on).  Built-in ones are skipped.
INITRAMFS_MODULES=(virtio virtio_ring virtio_pci netfs 9pnet 9pnet_virtio 9p overlay)
# Of those, the ones older kernels do not have (netfs: 5.13).
OPTIONAL_MODULES=" netfs "
# What counts as a kernel splat in the guest's logs.
# Lockdep, atomic-sleep and KASAN reports and soft lockups start with
# "WARNING:" or "BUG:"; RCU stalls and hung tasks do not.
SPLAT_RE='Oops|WARNING:|BUG:|Call Trace|general protection|Kernel panic|KASAN|UBSAN'
SPLAT_RE+='|detected stalls|self-detected stall|blocked for more than'

log() { echo "$PROG: $*" >&2; }
die() {
	# die [-c CODE] MESSAGE...
	local code=96
	if [ "${1:-}" = -c ]; then
		code=$2
		shift 2
	fi
	echo "$PROG: ERROR: $*" >&2
	exit "$code"
}

usage() {
	sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF" >&2
	exit 2
}

# ---------------------------------------------------------------------------
# Kernel splat detection
# ---------------------------------------------------------------------------

# check_logs FILE...: print kernel splat lines found in the given logs and
# return 1 if there are any.  Files named *console* are the raw serial
# console, which also carries the guest command's own output: there, only
# lines that look like printk output ("[   12.345678] ...", the guest always
# boots with printk.time=1) count, so a test printing "WARNING:" is not
# mistaken for a kernel warning.  Other files are kernel logs; every line
# counts.
check_logs() {
	local f found=0 hits
	for f in "$@"; do
		[ -s "$f" ] || continue
		case ${f##*/} in
		*console*)
			hits=$(tr -d '\r' <"$f" |
				grep -a -n -E "\[ *[0-9]+\.[0-9]+\] .*($SPLAT_RE)" || true)
			;;
		*)
			hits=$(tr -d '\r' <"$f" | grep -a -n -E "$SPLAT_RE" || true)
			;;
		esac
		if [ -n "$hits" ] && [ -n "${VM_SPLAT_IGNORE:-}" ]; then
			hits=$(grep -a -v -E "$VM_SPLAT_IGNORE" <<<"$hits" || true)
		fi
		if [ -n "$hits" ]; then
			found=1
			log "kernel splat in $f:"
			# Keep it readable: at most 40 lines per file.
			head -n 40 <<<"$hits" | sed 's/^/    /' >&2
			[ "$(wc -l <<<"$hits")" -le 40 ] || log "    ... (more in $f)"
		fi
	done
	return "$found"
}

if [ "${1:-}" = --check-logs ]; then
	shift
	[ $# -gt 0 ] || usage
	if check_logs "$@"; then
		exit 0
	fi
	exit 99
fi

case ${1:-} in
-h | --help | "") usage ;;
esac
[ $# -ge 2 ] || usage

KVER=$1
shift
# "$@" is now SCRIPT [ARGS...]
SCRIPT=$1

VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_SMP=${VM_SMP:-1}
VM_MEM=${VM_MEM:-1024}
[[ $VM_TIMEOUT =~ ^[0-9]+$ ]] || die -c 2 "VM_TIMEOUT must be a number of seconds"
[[ $VM_SMP =~ ^[0-9]+$ ]] || die -c 2 "VM_SMP must be a number"
[[ $VM_MEM =~ ^[0-9]+[MG]?$ ]] || die -c 2 "VM_MEM must be a size in MiB"

if [ -n "${VM_KERNEL_ROOT:-}" ]; then
	# a kernel of our own build (vmlinux), or a Debian package's
	# unpacked (boot/vmlinuz-KVER, see fetch-kernel.sh)
	VMLINUZ=$VM_KERNEL_ROOT/vmlinux
	[ -e "$VMLINUZ" ] || VMLINUZ=$VM_KERNEL_ROOT/boot/vmlinuz-$KVER
	MODDIR=$VM_KERNEL_ROOT/lib/modules/$KVER
else
	VMLINUZ=/boot/vmlinuz-$KVER
	MODDIR=/lib/modules/$KVER
fi
[ -r "$VMLINUZ" ] || die -c 2 "no kernel image $VMLINUZ (see selftests/vm/kernels.sh)"
[ -r "$MODDIR/modules.dep" ] || die -c 2 "no $MODDIR/modules.dep"
# The guest runs SCRIPT from the host's root, so it must exist here.
if [[ $SCRIPT == */* ]]; then
	[ -e "$SCRIPT" ] || die -c 2 "$SCRIPT: no such file"
fi

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (run selftests/vm/deps.sh)"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (install busybox-static)"

# ---------------------------------------------------------------------------
# Cache: extracted vmlinux and initramfs, per kernel version
# ---------------------------------------------------------------------------

if [ -n "${VM_CACHE_DIR:-}" ]; then
	CACHE=$VM_CACHE_DIR/$KVER
elif [ -w /var/cache ] || [ -w /var/cache/tcptrace-vm ]; then
	CACHE=/var/cache/tcptrace-vm/$KVER
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tcptrace-vm/$KVER
fi
mkdir -p "$CACHE" || die "cannot create cache dir $CACHE"

# has_pvh_note FILE: FILE is an ELF image carrying the Xen PVH entry point
# note (XEN_ELFNOTE_PHYS32_ENTRY, type 18), which qemu needs to boot an
# uncompressed kernel directly.
has_pvh_note() {
	local f=$1
	[ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || return 1
	if command -v readelf >/dev/null; then
		# readelf names the note type in newer binutils, prints the raw
		# number in older ones.
		readelf -n "$f" 2>/dev/null |
			grep -E '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]].*(\(0x00000012\)|PHYS32)' \
			>/dev/null || return 1
	fi
	return 0
}

# extract_vmlinux BZIMAGE OUT: find the compressed kernel payload inside a
# bzImage by its compression magic, decompress it and keep the first result
# that is a PVH-bootable ELF.  The decompressors complain about the trailing
# data after the payload; that is expected and ignored.
extract_vmlinux() {
	local img=$1 out=$2 tmp="$2.tmp.$$"
	local entry magic cmd off
	# "magic (as a grep -P pattern)|decompressor"
	local formats=(
		'\xfd7zXZ\x00|xz -dc'
		'\x28\xb5\x2f\xfd|zstd -dc'
		'\x1f\x8b\x08|gzip -dc'
		'\x5d\x00\x00\x00|xz -dc --format=lzma'
		'BZh|bzip2 -dc'
	)
	for entry in "${formats[@]}"; do
		magic=${entry%%|*}
		cmd=${entry#*|}
		command -v "${cmd%% *}" >/dev/null || continue
		# Byte offsets of the magic; only the first few candidates
		# (the real payload starts right after the setup code).
		for off in $(LC_ALL=C grep -obUaP "$magic" "$img" 2>/dev/null | head -n 4 | cut -d: -f1); do
			# shellcheck disable=SC2086 # $cmd is "prog args"
			tail -c +"$((off + 1))" "$img" | $cmd >"$tmp" 2>/dev/null || true
			if [ -s "$tmp" ] && has_pvh_note "$tmp"; then
				mv -f "$tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$tmp"
	return 1
}

# Serialise cache updates between concurrent run-vm.sh invocations.
exec 9>"$CACHE/.lock"
flock 9

KERNEL=$CACHE/vmlinux
if [ "${VMLINUZ##*/}" = vmlinux ]; then
	has_pvh_note "$VMLINUZ" || die -c 2 "$VMLINUZ: not a PVH-bootable vmlinux"
	KERNEL=$VMLINUZ
elif [ -s "$KERNEL" ] && [ "$KERNEL" -nt "$VMLINUZ" ] && has_pvh_note "$KERNEL"; then
	: # cached copy is good
elif extract_vmlinux "$VMLINUZ" "$KERNEL"; then
	log "extracted uncompressed kernel to $KERNEL"
else
	log "WARNING: could not extract a PVH vmlinux from $VMLINUZ; booting the bzImage (slower)"
	rm -f "$KERNEL"
	KERNEL=$VMLINUZ
fi

# The guest's PID 1, stage 1: runs from the initramfs under busybox sh,
# loads the modules and builds the root (9p host root + tmpfs overlay, API
# filesystems), then chroots PID 1 itself into it and continues with stage 2.
#
# PID 1 must do the chroot itself (not a child): the kernel's own threads
# share PID 1's root, and the kernel runs /sbin/modprobe for module
# autoloading (veth, nf_tables, ...) relative to that root.
guest_stage1() {
	cat <<'EOF'
#!/bin/sh
# tcptrace-vm guest init, stage 1 (generated by selftests/vm/run-vm.sh)
export PATH=/bin
NEWROOT=/newroot
OUT=@GUEST_OUT@
# Stage 2 and its busybox live here inside the new root (on its /run tmpfs).
INITDIR=/run/tcptrace-vm-init

fatal() {
	echo "tcptrace-vm init: FATAL: $*"
	# No exit-code file is written, so the host reports the failure.
	sync
	printf '\052' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
	reboot -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# Plain "\n" line endings in the host's copy of the console output.
stty -onlcr 2>/dev/null

# Load the modules needed for the 9p root, in dependency order.
while read -r m; do
	[ -n "$m" ] || continue
	insmod "/modules/$m" || fatal "insmod $m failed"
done </modules/order

# Host root, read-only, under a tmpfs overlay.
mkdir -p /lower /rw "$NEWROOT"
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=262144 \
	hostroot /lower || fatal "cannot mount the host root (9p)"
mount -t tmpfs -o mode=0755 tmpfs /rw || fatal "cannot mount tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work \
	overlay "$NEWROOT" || fatal "cannot mount the overlay root"

# The usual API filesystems inside the new root.
R=$NEWROOT
mount -t proc proc "$R/proc" || fatal "mount proc"
mount -t sysfs sysfs "$R/sys" || fatal "mount sysfs"
mount -t devtmpfs devtmpfs "$R/dev" || fatal "mount devtmpfs"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts "$R/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp" || fatal "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs "$R/run" || fatal "mount /run"
mkdir -p "$R/run/lock"
# Optional ones: fine if the kernel lacks them.
mount -t debugfs debugfs "$R/sys/kernel/debug" 2>/dev/null
mount -t tracefs tracefs "$R/sys/kernel/tracing" 2>/dev/null
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup" 2>/dev/null
mount -t bpf bpf "$R/sys/fs/bpf" 2>/dev/null

# The host's result dir, read-write, uncached so that every write reaches
# the host at once (and survives a guest crash).
mkdir -p "$R$OUT"
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 \
	vmout "$R$OUT" || fatal "cannot mount the result dir (9p)"

# Host directories under /tmp or /run (hidden by the fresh tmpfs mounts
# above) that the command needs, e.g. a checkout in /tmp: give each its own
# writable overlay at the same path.
i=0
while IFS= read -r d; do
	[ -n "$d" ] && [ -d "/lower$d" ] || continue
	i=$((i + 1))
	mkdir -p "/rw/x$i/upper" "/rw/x$i/work" "$R$d"
	mount -t overlay -o "lowerdir=/lower$d,upperdir=/rw/x$i/upper,workdir=/rw/x$i/work" \
		overlay "$R$d" || fatal "cannot expose $d"
done <"$R$OUT/.expose"

mkdir -p "$R$INITDIR/bin"
cp /bin/busybox /stage2 "$R$INITDIR/" || fatal "cannot copy stage 2"
cd "$R" || fatal "cd $R"
exec chroot . "$INITDIR/busybox" sh "$INITDIR/stage2"
fatal "chroot failed"
EOF
}

# Stage 2: PID 1, chrooted into the new root, still busybox sh.  Runs the
# command, saves the results to the shared result dir, powers off.
guest_stage2() {
	cat <<'EOF'
#!/bin/sh
# tcptrace-vm guest init, stage 2 (generated by selftests/vm/run-vm.sh)
OUT=@GUEST_OUT@
INITDIR=/run/tcptrace-vm-init
"$INITDIR/busybox" --install -s "$INITDIR/bin"
export PATH=$INITDIR/bin

halt_vm() {
	sync
	# Fast, silent exit through qemu's isa-debug-exit device (port 0xf4):
	# qemu exits at once with status (0x2a << 1) | 1 = 85.
	printf '\052' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	# Fallbacks, should that not work.
	poweroff -f
	reboot -f
	echo o >/proc/sysrq-trigger
	sleep 5
}

cd /
hostname tcptrace-vm
ip link set lo up

# Stream the kernel log to the host while the command runs.
cat /proc/kmsg >"$OUT/dmesg.live" &
kmsg_pid=$!

# Tell the host the command is starting (boot time measurement).
: >"$OUT/.script-started"
# Clean environment; .launch.sh (written by the host) sets PATH etc., the
# passed-through variables and the working directory, then execs the
# command with the host's /bin/sh.
env -i /bin/sh "$OUT/.launch.sh" </dev/null
rc=$?

kill "$kmsg_pid" 2>/dev/null
dmesg >"$OUT/dmesg.txt"
rm -f "$OUT/dmesg.live"
# Written last: its presence means the run completed.
echo "$rc" >"$OUT/exit-code.tmp" && mv "$OUT/exit-code.tmp" "$OUT/exit-code"
sync
umount "$OUT" 2>/dev/null
halt_vm
EOF
}

# resolve_modules: print the module files (paths relative to $MODDIR) to load
# for INITRAMFS_MODULES, dependencies first.  Modules built into the kernel
# are left out.
resolve_modules() {
	local -A path_of=() deps_of=() seen=()
	local line p n
	while IFS= read -r line; do
		p=${line%%:*}
		n=${p##*/}
		n=${n%%.ko*}
		n=${n//-/_}
		path_of[$n]=$p
		deps_of[$n]=${line#*:}
	done <"$MODDIR/modules.dep"

	local order=()
	visit() {
		local name=$1 d dn
		[ -z "${seen[$name]:-}" ] || return 0
		seen[$name]=1
		if [ -z "${path_of[$name]:-}" ]; then
			# Not a module: fine if built in, an error otherwise.
			# no grep -q: its early exit would SIGPIPE tr, and
			# pipefail would turn a match into a failure
			if tr '-' '_' <"$MODDIR/modules.builtin" |
				grep -E "/${name}\.ko$" >/dev/null; then
				return 0
			fi
			[[ $OPTIONAL_MODULES != *" $name "* ]] || return 0
			die "kernel module $name not found for $KVER (neither in modules.dep nor built in)"
		fi
		for d in ${deps_of[$name]}; do
			dn=${d##*/}
			dn=${dn%%.ko*}
			visit "${dn//-/_}"
		done
		order+=("${path_of[$name]}")
	}
	for n in "${INITRAMFS_MODULES[@]}"; do
		visit "$n"
	done
	printf '%s\n' "${order[@]}"
}

# build_initramfs OUT: a small uncompressed cpio with busybox, the modules
# and the init above.
build_initramfs() {
	local out=$1 stage mod name applet
	stage=$(mktemp -d "$CACHE/initramfs.XXXXXX")
	mkdir -p "$stage"/{bin,dev,proc,sys,modules,lower,rw,newroot}
	cp "$BUSYBOX" "$stage/bin/busybox"
	for applet in $("$BUSYBOX" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
	done
	# The kernel opens /dev/console for init before init can mount
	# devtmpfs; without the node it warns and init starts without stdio.
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null ||
		log "cannot mknod /dev/console (not root?); continuing without it"

	local mods
	mods=$(resolve_modules) || {
		rm -rf "$stage"
		die "cannot resolve the initramfs modules for $KVER"
	}
	: >"$stage/modules/order"
	while IFS= read -r mod; do
		[ -n "$mod" ] || continue
		name=${mod##*/}
		case $name in
		*.ko.xz) xz -dc "$MODDIR/$mod" >"$stage/modules/${name%.xz}" ;;
		*.ko.zst) zstd -qdc "$MODDIR/$mod" >"$stage/modules/${name%.zst}" ;;
		*.ko.gz) gzip -dc "$MODDIR/$mod" >"$stage/modules/${name%.gz}" ;;
		*.ko) cp "$MODDIR/$mod" "$stage/modules/$name" ;;
		*) die "unexpected module file name $mod" ;;
		esac || die "cannot decompress $MODDIR/$mod"
		echo "${name%.ko*}.ko" >>"$stage/modules/order"
	done <<<"$mods"

	guest_stage1 | sed "s|@GUEST_OUT@|$GUEST_OUT|" >"$stage/init"
	guest_stage2 | sed "s|@GUEST_OUT@|$GUEST_OUT|" >"$stage/stage2"
	chmod 755 "$stage/init" "$stage/stage2"

	(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$out.tmp" ||
		die "cpio failed"
	mv -f "$out.tmp" "$out"
	rm -rf "$stage"
}

# The initramfs is rebuilt whenever this script, busybox or the kernel's
# module set changes.
INITRD=$CACHE/initramfs.cpio
initrd_key=$({
	sha256sum "$SELF"
	stat -L -c '%n %s %Y' "$BUSYBOX" "$MODDIR/modules.dep"
} | sha256sum | cut -d' ' -f1)
if [ ! -s "$INITRD" ] || [ "$(cat "$CACHE/initramfs.key" 2>/dev/null)" != "$initrd_key" ]; then
	build_initramfs "$INITRD"
	echo "$initrd_key" >"$CACHE/initramfs.key"
	log "built initramfs $INITRD"
fi
exec 9>&- # drop the cache lock

# ---------------------------------------------------------------------------
# Result dir and the guest's launch script
# ---------------------------------------------------------------------------

if [ -n "${VM_OUT_DIR:-}" ]; then
	RESULT=$VM_OUT_DIR
	mkdir -p "$RESULT" || die "cannot create $RESULT"
	RESULT=$(readlink -f "$RESULT")
	rm -f "$RESULT"/{console.log,dmesg.txt,dmesg.live,exit-code,exit-code.tmp,.launch.sh,.expose,.script-started}
	KEEP_RESULT=1
else
	RESULT=$(mktemp -d "${TMPDIR:-/tmp}/tcptrace-vm.XXXXXX")
	KEEP_RESULT=${VM_KEEP_OUT:-0}
fi

# shquote STRING: STRING as one single-quoted sh word.
shquote() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

{
	echo "# generated by run-vm.sh: guest-side environment and command"
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "export HOME=/root TERM=dumb LANG=C.UTF-8"
	while IFS= read -r name; do
		case $name in
		TCPTRACE_* | VM_* | CI) echo "export $name=$(shquote "${!name}")" ;;
		esac
	done < <(compgen -e)
	echo "export VM_OUT=$GUEST_OUT VM_KVER=$(shquote "$KVER")"
	if [ -n "${VM_KERNEL_ROOT:-}" ]; then
		# an uninstalled kernel: its modules where modprobe looks
		echo "mkdir -p /lib/modules/$(shquote "$KVER") &&" \
			"mount --bind $(shquote "$(readlink -f "$MODDIR")")" \
			"/lib/modules/$(shquote "$KVER")"
	fi
	echo "cd $(shquote "$PWD") || { echo \"run-vm: cannot cd to \$PWD in the guest\" >&2; exit 125; }"
	printf 'exec'
	for arg in "$@"; do
		printf ' %s' "$(shquote "$arg")"
	done
	echo
} >"$RESULT/.launch.sh"

# The guest mounts fresh tmpfs on /tmp and /run.  If the working directory,
# SCRIPT or an absolute-path argument lives there on the host (a checkout in
# /tmp, say), the guest overlays that top-level directory (/tmp/NAME) from
# the host root at the same path.  Paths with characters that cannot go in
# overlay mount options (",", ":") are not supported.
{
	for p in "$PWD" "$@"; do
		if [[ $p != /* ]] || [ ! -e "$p" ]; then
			continue
		fi
		p=$(readlink -f "$p")
		if [[ $p =~ ^(/tmp|/run)/[^/]+ ]]; then
			d=${BASH_REMATCH[0]}
			case $d in
			/run/tcptrace-vm-*) continue ;;
			*[,:]*)
				log "WARNING: cannot expose $d in the guest (',' or ':' in the path)"
				continue
				;;
			esac
			[ -d "$d" ] && echo "$d"
		fi
	done | sort -u
} >"$RESULT/.expose"

# ---------------------------------------------------------------------------
# Boot
# ---------------------------------------------------------------------------

CMDLINE="console=ttyS0 panic=-1 oops=panic loglevel=4 printk.time=1"
# Speed: skip CPU vulnerability mitigations (costly under TCG) and
# needless legacy device probing.
CMDLINE+=" mitigations=off 8250.nr_uarts=1 i8042.noaux i8042.nopnp"
CMDLINE+=" rdinit=/init log_buf_len=4M"
[ -z "${VM_APPEND:-}" ] || CMDLINE+=" $VM_APPEND"

# shellcheck disable=SC2054 # commas are qemu's option syntax
QEMU=(
	qemu-system-x86_64
	-nodefaults -no-user-config
	-machine "${VM_MACHINE:-q35}"
	-accel "${VM_ACCEL:-tcg}"
	-cpu "${VM_CPU:-max}"
	-smp "$VM_SMP"
	-m "$VM_MEM"
	-display none
	-no-reboot
	-nic none
	# Lets the guest exit qemu without the kernel's shutdown noise.
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
	-kernel "$KERNEL"
	-initrd "$INITRD"
	-append "$CMDLINE"
	# Serial console: live on our stdout, and copied to console.log.
	-chardev "stdio,id=con0,signal=off,logfile=$RESULT/console.log"
	-serial chardev:con0
	# Host root, read-only (the guest puts a tmpfs overlay on top).
	-fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot
	# Result dir, read-write.
	-fsdev "local,id=fsout,path=$RESULT,security_model=none"
	-device virtio-9p-pci,fsdev=fsout,mount_tag=vmout
)
if [ -n "${VM_QEMU_ARGS:-}" ]; then
	# shellcheck disable=SC2206 # word splitting is the point
	QEMU+=($VM_QEMU_ARGS)
fi

QEMU_PID=
WATCH_PID=
# shellcheck disable=SC2317 # called through trap
cleanup() {
	local rc=$?
	[ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2>/dev/null || true
	[ -z "$WATCH_PID" ] || kill "$WATCH_PID" 2>/dev/null || true
	if [ "$KEEP_RESULT" = 1 ] || [ "$rc" -ne 0 ]; then
		[ -d "$RESULT" ] && log "result dir kept: $RESULT"
	else
		rm -rf "$RESULT"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "booting $KVER (${KERNEL##*/}, smp=$VM_SMP, mem=$VM_MEM, timeout=${VM_TIMEOUT}s)"
T0=$EPOCHREALTIME
# timeout(1) kills qemu after VM_TIMEOUT seconds (exit 124/137).  qemu gets
# no stdin, so it never touches the terminal.
timeout --kill-after=10 "$VM_TIMEOUT" "${QEMU[@]}" </dev/null &
QEMU_PID=$!

# Note when the guest starts the command (for the boot time report).
(
	while [ ! -e "$RESULT/.script-started" ]; do
		kill -0 "$QEMU_PID" 2>/dev/null || exit 0
		sleep 0.05
	done
	echo "$EPOCHREALTIME" >"$RESULT/.script-started-host"
) &
WATCH_PID=$!

# qemu's exit status when the guest exits through isa-debug-exit.
QEMU_GUEST_EXIT=85
qemu_rc=0
wait "$QEMU_PID" || qemu_rc=$?
QEMU_PID=
T1=$EPOCHREALTIME
kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=

# elapsed FROM TO: seconds between two $EPOCHREALTIME values, 2 decimals.
elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'
}

boot_time=n/a
if [ -s "$RESULT/.script-started-host" ]; then
	boot_time=$(elapsed "$T0" "$(cat "$RESULT/.script-started-host")")s
fi
rm -f "$RESULT/.script-started-host"

# ---------------------------------------------------------------------------
# Verdict
# ---------------------------------------------------------------------------

console_tail() {
	log "last lines of the guest console ($RESULT/console.log):"
	tail -n "${1:-30}" "$RESULT/console.log" 2>/dev/null | tr -d '\r' | sed 's/^/    /' >&2 || true
}

status=
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	log "TIMEOUT: guest still running after ${VM_TIMEOUT}s, qemu killed"
	console_tail
	status=97
elif [ ! -s "$RESULT/exit-code" ] && [ "$qemu_rc" -ne 0 ] && [ "$qemu_rc" -ne "$QEMU_GUEST_EXIT" ]; then
	# A guest shutdown, reset or panic ends qemu with status 0 (or 85, see
	# above); anything else is qemu itself failing (bad options, crash).
	log "qemu failed (exit $qemu_rc)"
	console_tail
	status=96
elif [ ! -s "$RESULT/exit-code" ]; then
	log "guest did not report an exit code (kernel crash, panic or hang during boot?)"
	console_tail 40
	status=98
else
	status=$(cat "$RESULT/exit-code")
	[[ $status =~ ^[0-9]+$ ]] || status=98
fi

# Kernel splats fail the run even when the command succeeded.
dmesg_file=$RESULT/dmesg.txt
[ -s "$dmesg_file" ] || dmesg_file=$RESULT/dmesg.live
if ! check_logs "$dmesg_file" "$RESULT/console.log"; then
	log "the guest kernel logged an Oops/WARNING/BUG (see above)"
	case $status in
	97 | 98) ;; # already failing with a more specific code
	*) status=99 ;;
	esac
fi

log "$KVER: exit $status, boot-to-script $boot_time, total $(elapsed "$T0" "$T1")s"
exit "$status"
