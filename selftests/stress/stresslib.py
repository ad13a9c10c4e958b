# SPDX-License-Identifier: GPL-2.0
"""Helpers for the stress tests (run in a guest by selftests/stress/run.sh):
the variant's sizes, a background connection storm, the kernel log and
slab checks, memory snapshots, raw device access through ctypes.

The module helpers (load, unload, stats, Tracer, ...) are those of the
functional tests, selftests/tcptrace/lib.py."""
import ctypes
import ctypes.util
import errno
import fcntl
import mmap
import os
import re
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tcptrace"))
from ktap import check, eq, diag, Skip  # noqa: E402,F401
import schema  # noqa: E402
from lib import *  # noqa: E402,F401,F403
from lib import HDR, DEV, CLI, KO, KVER, sh, load, unload  # noqa: E402,F401

MODE = os.environ.get("TCPTRACE_STRESS", "quick")
QUICK = MODE != "long"


def size(quick, long):
    """The quick (make check) or the long (make stress) value."""
    return quick if QUICK else long


def scaled(n, least=1):
    """@n counts of work, fewer under a slow (debug) kernel: SLOWDOWN."""
    return max(least, int(n // SLOWDOWN))


NCPUS = os.cpu_count() or 1
REC_LOST = 2

# --- kernel log -----------------------------------------------------------

SPLAT = re.compile(r"Oops|WARNING:|BUG[: ]|Call Trace|general protection|"
                   r"Kernel panic|KASAN|UBSAN|Redzone|Poison overwritten|"
                   r"Object padding|Padding overwritten|corrupt|"
                   r"list_(add|del) corruption|refcount_t|underflow|"
                   r"use-after-free|double free|kernel NULL pointer|"
                   r"detected stall|blocked for more than|kmemleak")


def dmesg_lines():
    return sh("dmesg").stdout.splitlines()


class LogMark:
    """The kernel log from now on."""

    def __init__(self):
        self.n = len(dmesg_lines())

    def new(self):
        return dmesg_lines()[self.n:]

    def splats(self):
        return [x for x in self.new() if SPLAT.search(x)]

    def assert_clean(self, what="kernel log"):
        bad = self.splats()
        if bad:
            diag("\n".join(self.new()[-80:]))
        eq(bad, [], what + ": no oops/WARN/BUG/slab corruption")


def slub_debug_on():
    with open("/proc/cmdline") as f:
        return "slub_debug" in f.read()


def validate_slabs():
    """Make SLUB check every object of every cache now (redzones, poison,
    free lists); errors go to the kernel log as 'BUG cache: ...'.  Only
    meaningful when the guest booted with slub_debug.  Returns the number
    of caches validated."""
    if not slub_debug_on():
        return 0
    n = 0
    for c in sorted(os.listdir("/sys/kernel/slab")):
        p = "/sys/kernel/slab/%s/validate" % c
        if os.path.islink("/sys/kernel/slab/" + c) or not os.path.exists(p):
            continue
        # Debian's 7.3.4 reports its boot-time kmem_cache_node slab
        # "Freepointer corrupt" on the first validation, with no module
        # ever loaded (reproduced: a guest that only validates).  SLUB's
        # own bootstrap cache; tcptrace never allocates from it.
        if c == "kmem_cache_node" and KVER >= (7, 0):
            continue
        try:
            with open(p, "w") as f:
                f.write("1")
            n += 1
        except OSError:
            pass
    return n


def check_kernel(mark, what):
    """A test's closing check: validate every slab, then nothing bad in
    the kernel log since @mark."""
    n = validate_slabs()
    mark.assert_clean(what)
    diag("%s: kernel log clean%s" % (
        what, ", %d slab caches validated" % n if n else ""))


# --- memory ---------------------------------------------------------------

def meminfo():
    """/proc/meminfo in KiB, plus:
    PCP      pages on the per-CPU free lists (/proc/zoneinfo "count"):
             free, but not in MemFree, and they come and go by megabytes
    Free     MemFree + PCP
    Unknown  memory no counter accounts for: not free, not on an LRU
             (anon, file, shmem), not slab, stacks, page tables, vmalloc
             or per-CPU; where pages a module takes with alloc_pages()
             and never gives back (its ring buffer) would show"""
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v.split()[0])          # KiB
    pcp = 0
    with open("/proc/zoneinfo") as f:
        for line in f:
            p = line.split()
            if p and p[0] == "count:":
                pcp += int(p[1])
    out["PCP"] = pcp * (PAGE // 1024)
    out["Free"] = out["MemFree"] + out["PCP"]
    out["Unknown"] = (out["MemTotal"] - out["Free"] - out["Active"] -
                      out["Inactive"] - out["Unevictable"] - out["Slab"] -
                      out["KernelStack"] - out["PageTables"] -
                      out["VmallocUsed"] - out.get("Percpu", 0))
    return out


def slabinfo():
    """{cache: (active_objs, objsize)}"""
    out = {}
    with open("/proc/slabinfo") as f:
        for line in f.readlines()[2:]:
            p = line.split()
            out[p[0]] = (int(p[1]), int(p[3]))
    return out


def settle():
    """Let RCU-freed objects and deferred work go, drop the caches."""
    for _ in range(3):
        sh("sync; echo 3 > /proc/sys/vm/drop_caches", False)
        time.sleep(0.5)


class MemSnap:
    def __init__(self):
        settle()
        self.mem = meminfo()
        self.slab = slabinfo()

    def kmalloc_bytes(self):
        return sum(n * sz for c, (n, sz) in self.slab.items()
                   if c.startswith(("kmalloc-", "kmalloc-cg-", "dma-kmalloc")))

    def diff(self, before):
        """(meminfo deltas in KiB, top slab deltas in bytes)"""
        dm = {k: self.mem[k] - before.mem[k]
              for k in ("Free", "Unknown", "SUnreclaim", "VmallocUsed",
                        "Percpu", "Shmem", "PCP") if k in self.mem}
        # files the tests leave in /tmp (tmpfs) are not the module's
        dm["Free"] += dm["Shmem"]
        ds = []
        for c, (n, sz) in self.slab.items():
            n0 = before.slab.get(c, (0, sz))[0]
            if n != n0:
                ds.append(((n - n0) * sz, c, n - n0))
        ds.sort(reverse=True)
        return dm, ds


def check_memory_back(before, after, what, slack_kib=None):
    """The module's memory is all gone again: unreclaimable slab, vmalloc,
    kmalloc caches, unaccounted pages and free memory back to @before
    within a tolerance (KiB)."""
    slack = {"SUnreclaim": 2048, "VmallocUsed": 1024, "Unknown": 1024,
             "Free": -8192, "kmalloc": 2048}
    slack.update(slack_kib or {})
    dm, ds = after.diff(before)
    diag("%s: meminfo delta (KiB) %r" % (what, dm))
    diag("%s: largest slab growth: %s" % (what, ", ".join(
        "%s %+d objs (%+d KiB)" % (c, n, b // 1024) for b, c, n in ds[:6])))
    dk = (after.kmalloc_bytes() - before.kmalloc_bytes()) // 1024
    diag("%s: kmalloc caches delta %+d KiB" % (what, dk))
    check(dm["SUnreclaim"] <= slack["SUnreclaim"],
          "%s: SUnreclaim grew by %d KiB" % (what, dm["SUnreclaim"]))
    check(dm["VmallocUsed"] <= slack["VmallocUsed"],
          "%s: VmallocUsed grew by %d KiB" % (what, dm["VmallocUsed"]))
    check(dm["Unknown"] <= slack["Unknown"],
          "%s: %d KiB of pages unaccounted for" % (what, dm["Unknown"]))
    check(dm["Free"] >= slack["Free"],
          "%s: free memory dropped by %d KiB" % (what, -dm["Free"]))
    check(dk <= slack["kmalloc"],
          "%s: kmalloc caches grew by %d KiB" % (what, dk))


# --- background load -----------------------------------------------------

# Connections a second per storm process, 0: as fast as it can.  The
# kmemleak guest (selftests/debug/check.sh) paces its storms: there a
# stack trace is saved per allocation, and an unpaced storm starved the
# test itself (30 loopback connections outlived TIME_WAIT's 60 s).
STORM_RATE = float(os.environ.get("TCPTRACE_STORM_RATE", "0"))


class Storm:
    """storm.py in the background (optionally in a network namespace)."""

    def __init__(self, seconds=3600, mode="mix", procs=1, netns=None,
                 host="127.0.0.1", port=9):
        cmd = [sys.executable, os.path.join(HERE, "storm.py"),
               "--seconds", str(seconds), "--mode", mode,
               "--procs", str(procs), "--host", host, "--port", str(port),
               "--rate", str(STORM_RATE)]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        eq(self.p.stdout.readline().strip(), "started", "storm started")
        self.count = None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        out = self.p.communicate(timeout=120)[0]
        m = re.search(r"connections (\d+) errors (\d+)", out)
        check(m, "storm output: %r" % out)
        self.count, self.errors = int(m.group(1)), int(m.group(2))
        return self.count


# --- the device, raw ----------------------------------------------------

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong)
libc.ioctl.restype = ctypes.c_int
libc.read.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_size_t)
libc.read.restype = ctypes.c_ssize_t
libc.mmap.argtypes = (ctypes.c_ulong, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long)
libc.mmap.restype = ctypes.c_ulong
libc.mprotect.argtypes = (ctypes.c_ulong, ctypes.c_size_t, ctypes.c_int)

PAGE = mmap.PAGESIZE
PROT_NONE, PROT_READ, PROT_RW = 0, 1, 3


def raw_ioctl(fd, cmd, arg):
    """(ret, errno) of ioctl(fd, cmd, arg) with any cmd and arg value."""
    r = libc.ioctl(fd, cmd & 0xffffffff, arg & 0xffffffffffffffff)
    return r, (ctypes.get_errno() if r < 0 else 0)


def raw_read(fd, addr, count):
    """(ret, errno) of read(fd, addr, count) with any pointer."""
    r = libc.read(fd, addr, count & 0xffffffffffffffff)
    return r, (ctypes.get_errno() if r < 0 else 0)


class Pages:
    """@n pages of anonymous memory whose protections we set per page
    (a guard page after a buffer, a read-only page, ...)."""

    def __init__(self, n):
        self.n = n
        self.addr = libc.mmap(0, n * PAGE, PROT_RW, 0x22, -1, 0)  # PRIV|ANON
        check(self.addr not in (0, 2 ** 64 - 1), "mmap")

    def page(self, i):
        return self.addr + i * PAGE

    def protect(self, i, prot):
        eq(libc.mprotect(self.page(i), PAGE, prot), 0, "mprotect")

    def bytes(self, addr, n):
        return ctypes.string_at(addr, n)


def walk(buf):
    """Whole records of a read(): [(type, cpu, lost_before, raw)]"""
    off, out = 0, []
    while off < len(buf):
        typ, sz, ver, ctx, cpu, lost, _, ts = HDR.unpack_from(buf, off)
        check(sz >= HDR.size and sz % 8 == 0 and off + sz <= len(buf),
              "whole record at %d (size %d of %d)" % (off, sz, len(buf)))
        out.append((typ, cpu, lost, bytes(buf[off:off + sz])))
        off += sz
    return out


class Tally:
    """What a reader got: records by type, losses reported in-band."""

    def __init__(self):
        self.records = 0
        self.by_type = {}
        self.reported_lost = 0
        self.lost_by_cpu = {}

    def add(self, buf):
        for typ, cpu, lost, raw in walk(buf):
            n = lost
            if typ == REC_LOST:
                n += struct.unpack_from("<Q", raw, HDR.size)[0]
            else:
                self.records += 1
                self.by_type[typ] = self.by_type.get(typ, 0) + 1
            if n:
                self.reported_lost += n
                self.lost_by_cpu[cpu] = self.lost_by_cpu.get(cpu, 0) + n


def drain(fd, tally, bufsize=1 << 20):
    """Read a non-blocking fd until EAGAIN."""
    while True:
        try:
            buf = os.read(fd, bufsize)
        except BlockingIOError:
            return
        tally.add(buf)


def read_all(fd, bufsize=1 << 20):
    """The bytes of a non-blocking fd until EAGAIN."""
    out = b""
    while True:
        try:
            out += os.read(fd, bufsize)
        except BlockingIOError:
            return out


def open_dev(flags=os.O_RDONLY | os.O_NONBLOCK):
    return os.open(DEV, flags)


NETNS_COOKIE = """
import socket, struct
s = socket.socket()
print(struct.unpack("<Q", s.getsockopt(socket.SOL_SOCKET, 71, 8))[0])
"""
# every record type: the header, the socket cookie, then these two
REC_NETNS = struct.Struct("<QI")


def netns_cookie(ns):
    """The cookie of network namespace @ns: SO_NETNS_COOKIE (5.14+), else
    the module's records of a connect made in @ns, picked by the
    namespace's inode.  Call with the module loaded and the device
    closed."""
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                        NETNS_COOKIE], capture_output=True, text=True)
    if r.returncode == 0:
        return int(r.stdout)
    check("Protocol not available" in r.stderr, r.stderr)
    ino = os.stat("/run/netns/" + ns).st_ino
    fd = open_dev()
    try:
        read_all(fd)
        sh("ip netns exec %s %s -c 'import socket; "
           "socket.socket().connect_ex((\"127.0.0.1\", 9))'" % (
               ns, sys.executable))
        time.sleep(0.3)
        got = {c for typ, _, _, raw in walk(read_all(fd))
               if typ != REC_LOST and len(raw) >= HDR.size + 20
               for c, i in [REC_NETNS.unpack_from(raw, HDR.size + 8)]
               if i == ino}
    finally:
        os.close(fd)
    eq(len(got), 1, "one cookie in the records of netns %s" % ns)
    return got.pop()


SCOPED_PROBE = """
import os, sys
try:
    os.close(os.open("/dev/tcptrace", os.O_RDONLY | os.O_NONBLOCK))
except OSError as e:
    sys.exit(e.errno)
"""


def need_scoped_readers():
    """A reader in another network namespace needs the kernel's netns
    cookies (5.12+).  Before them the module refuses it with EOPNOTSUPP:
    check that refusal, then skip the test; from 5.12 on the open must
    work.  Call with the module loaded and the device closed."""
    r = subprocess.run(["unshare", "--net", sys.executable, "-c",
                        SCOPED_PROBE])
    if r.returncode == errno.EOPNOTSUPP and KVER < (5, 12):
        raise Skip("readers outside the initial netns are refused with "
                   "EOPNOTSUPP on this kernel (no netns cookies)")
    eq(r.returncode, 0, "open from a new network namespace (%s)" %
       errno.errorcode.get(r.returncode, r.returncode))


def quiet_refused(n=5):
    """On a quiet host: drain, reset the counters, make @n refused
    connects, and read what they made.  Returns (tally, stats)."""
    fd = open_dev()
    try:
        drain(fd, Tally())
        fcntl.ioctl(fd, IOC_RESET, 0)
        port = new_port()
        for _ in range(n):
            refused("127.0.0.1", port)
        time.sleep(0.3)
        t = Tally()
        drain(fd, t)
        return t, stats(fd)
    finally:
        os.close(fd)


def errname(e):
    return errno.errorcode.get(e, str(e))


CPU_STATS = struct.Struct("<IIQQQQQ")   # cpu pad produced lost delivered
#                                         buffered buffer_bytes


def stats_cpus(fd, room=64):
    """The per-CPU counters: {cpu: dict}"""
    import fcntl
    arr = ctypes.create_string_buffer(CPU_STATS.size * room)
    b = bytearray(struct.pack("<IIQ", 0, room, ctypes.addressof(arr)) +
                  bytes(72))
    fcntl.ioctl(fd, IOC_STATS, b)
    n = struct.unpack_from("<I", b, 4)[0]
    out = {}
    for i in range(n):
        cpu, _, pr, lo, de, bu, bb = CPU_STATS.unpack_from(arr.raw,
                                                           i * CPU_STATS.size)
        out[cpu] = dict(produced=pr, lost=lo, delivered=de, buffered=bu,
                        buffer_bytes=bb)
    return out


def cli_stats():
    """tools/tcpwhy --stats -j (the device must not be open)"""
    import json
    r = sh("%s --stats -j" % CLI)
    return schema.valid(json.loads(r.stdout))


class Topo:
    """Two network namespaces joined by a veth pair: A (ttXa, va,
    NET.2 / PFX::2) sends, B (ttXb, vb, NET.1 / PFX::1) receives.  Frames
    are sent from A with a raw AF_PACKET socket (pktlib.py), so they reach
    B's stack (and tcptrace's PRE_ROUTING hook) exactly as built."""

    def __init__(self, tag, net, pfx):
        self.a, self.b = "tt%sa" % tag, "tt%sb" % tag
        self.net, self.pfx = net, pfx
        self.close()
        sh("ip netns add %s && ip netns add %s" % (self.a, self.b))
        sh("ip link add va netns %s type veth peer name vb netns %s" % (
            self.a, self.b))
        for ns, dev, host in ((self.a, "va", 2), (self.b, "vb", 1)):
            sh("ip -n %s link set lo up && ip -n %s link set %s up" % (
                ns, ns, dev))
            sh("ip -n %s addr add %s.%d/24 dev %s" % (ns, net, host, dev))
            sh("ip -n %s addr add %s%d/64 dev %s nodad" % (ns, pfx, host,
                                                          dev))
        self.mac_a = self.mac(self.a, "va")
        self.mac_b = self.mac(self.b, "vb")
        self.ip_a, self.ip_b = net + ".2", net + ".1"
        self.ip6_a, self.ip6_b = pfx + "2", pfx + "1"

    @staticmethod
    def mac(ns, dev):
        return sh("ip netns exec %s cat /sys/class/net/%s/address" % (
            ns, dev)).stdout.strip()

    def sh(self, ns, cmd, check_rc=True):
        return sh("ip netns exec %s %s" % (ns, cmd), check_rc)

    def send(self, frames):
        """Send frames out of A's va; returns how many went out."""
        import pktlib
        r = subprocess.run(["ip", "netns", "exec", self.a, sys.executable,
                            os.path.join(HERE, "pktlib.py"), "va"],
                           input=pktlib.pack_frames(frames),
                           capture_output=True, timeout=600)
        eq(r.returncode, 0, "sender: %r" % r.stderr)
        return int(r.stdout)

    def close(self):
        sh("ip netns del %s" % self.a, False)
        sh("ip netns del %s" % self.b, False)
