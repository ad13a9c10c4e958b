#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
/dev/tcptrace under abuse, run as root in a guest (selftests/stress/run.sh):
random ioctl numbers and arguments, read() with every short size, huge,
unaligned and bad buffers, write()/mmap()/lseek(), racing open()s.  Every
call must fail with the documented errno (or succeed where valid), no
record may be lost to a fault, and the kernel log must stay clean.
"""
import errno
import fcntl
import mmap
import multiprocessing
import os
import random
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stresslib import *  # noqa: E402,F401,F403
from ktap import test, run  # noqa: E402

RNG = random.Random()
SEED_NOTE = "TCPTRACE_SEED=%d reproduces this run"
VALID = {IOC_VERSION, IOC_STATS, IOC_RESET, IOC_SET_TYPES}
TYPES_ALL = 0x3e        # record types 1..5
STATS_SIZE = 88
CPU_SIZE = 48


def set_blocking(fd, on):
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL,
                fl & ~os.O_NONBLOCK if on else fl | os.O_NONBLOCK)


def possible_cpus():
    with open("/sys/devices/system/cpu/possible") as f:
        n = 0
        for part in f.read().strip().split(","):
            a, _, b = part.partition("-")
            n += int(b or a) - int(a) + 1
        return n


def vfs_ioctl(cmd):
    """Commands the VFS answers itself before the driver sees them
    (fs/ioctl.c: FIOCLEX, FIONBIO, FIGETBSZ, FIFREEZE, FICLONE, ...)."""
    typ = (cmd >> 8) & 0xff
    return cmd in (1, 2) or typ in (0x54, 0x58, 0x66, 0x94, 0x15)


class Arena:
    """User memory with known access: [page 0 rw][page 1 rw][page 2 ro]
    [page 3 none].  An address is paired with how many bytes from it can
    be read and written."""

    def __init__(self):
        self.m = Pages(4)
        self.m.protect(2, PROT_READ)
        self.m.protect(3, PROT_NONE)
        base = self.m.addr
        P = PAGE
        # (addr, readable, writable)
        self.pool = [
            (0, 0, 0),                          # NULL
            (1, 0, 0),
            (0xffffffffffffffff, 0, 0),
            (0xffff888000000000, 0, 0),         # kernel direct map
            (0xffffffff81000000, 0, 0),         # kernel text
            (0x00007ffffffff000, 0, 0),         # top of user space
            (0x0000800000000000, 0, 0),         # non-canonical
            (base + 3 * P, 0, 0),               # PROT_NONE page
            (base + 2 * P, P, 0),               # read-only page
            (base + 3 * P - 40, 40, 0),         # read-only, 40 bytes left
            (base, 2 * P, 2 * P),               # plenty
            (base + 2 * P - 4, 4, 4),           # 4 bytes before read-only
            (base + 2 * P - STATS_SIZE, 2 * P, STATS_SIZE),
            (base + 2 * P - 50, P + 50, 50),
            (base + 1, 2 * P - 1, 2 * P - 1),   # unaligned
        ]

    def pick(self):
        if RNG.random() < 0.15:
            return RNG.getrandbits(64), None, None   # any errno ok
        return RNG.choice(self.pool)

    def write(self, addr, data):
        """write @data at @addr, even into the read-only page"""
        import ctypes
        self.m.protect(2, PROT_RW)
        ctypes.memmove(addr, data, len(data))
        self.m.protect(2, PROT_READ)


def expect_stats(ar, fd, ncpu):
    """One STATS call with a random struct at a random place; returns the
    call and the errno it must give."""
    addr, r, w = ar.pick()
    room = RNG.choice([0, 1, ncpu, ncpu + 1, 0xffffffff, 0x80000000,
                       RNG.getrandbits(32)])
    caddr, cr, cw = ar.pick()
    if RNG.random() < 0.2:
        caddr, cw = 0, 0
    if r is not None and r >= STATS_SIZE:
        ar.write(addr, struct.pack("<IIQ", 0, room, caddr) + bytes(72))
    ret, e = raw_ioctl(fd, IOC_STATS, addr)
    if r is None or (caddr and cw is None):
        want = {0, errno.EFAULT}
    elif r < STATS_SIZE:
        want = {errno.EFAULT}
    else:
        copies = min(room, ncpu) if caddr else 0
        if copies and cw < copies * CPU_SIZE:
            want = {errno.EFAULT}
        elif w < STATS_SIZE:
            want = {errno.EFAULT}
        else:
            want = {0}
    return ("STATS arg=%#x room=%#x cpus=%#x" % (addr, room, caddr), e, want)


@test
def ioctl_fuzz():
    load()
    mark = LogMark()
    seed = int(os.environ.get("TCPTRACE_SEED", "0")) or RNG.getrandbits(32)
    RNG.seed(seed)
    diag(SEED_NOTE % seed)
    ar = Arena()
    ncpu = possible_cpus()
    fd = open_dev()
    bad = []
    counts = {}

    def verdict(what, e, want):
        counts[errname(e) if e else "ok"] = counts.get(
            errname(e) if e else "ok", 0) + 1
        if e not in want:
            bad.append("%s: got %s, want %s" % (
                what, errname(e) if e else "success",
                "/".join(errname(x) if x else "success" for x in want)))

    try:
        # 1. every command number of our magic, all directions, odd sizes
        for nr in range(256):
            for d in range(4):
                for sz in (0, 1, 3, 4, 8, 87, 88, 89, 4095, 16383):
                    cmd = ioc(d, nr, sz)
                    if cmd in VALID:
                        continue
                    addr = ar.pick()[0]
                    r, e = raw_ioctl(fd, cmd, addr)
                    verdict("ioctl %#x" % cmd, e, {errno.ENOTTY})
        # 2. random command numbers, random arguments
        for _ in range(size(20000, 400000)):
            cmd = RNG.getrandbits(32)
            if RNG.random() < 0.3:              # our magic, any nr/dir/size
                cmd = (cmd & ~0xff00) | (IOC_MAGIC << 8)
            if cmd in VALID or vfs_ioctl(cmd):
                continue
            r, e = raw_ioctl(fd, cmd, RNG.getrandbits(64))
            verdict("ioctl %#x" % cmd, e, {errno.ENOTTY})
        # 3. the real commands with random arguments
        for _ in range(size(5000, 100000)):
            c = RNG.randrange(4)
            if c == 0:
                addr, r, w = ar.pick()
                ret, e = raw_ioctl(fd, IOC_VERSION, addr)
                want = ({0, errno.EFAULT} if w is None else
                        {0} if w >= 4 else {errno.EFAULT})
                verdict("VERSION %#x" % addr, e, want)
            elif c == 1:
                verdict(*expect_stats(ar, fd, ncpu))
            elif c == 2:
                arg = RNG.choice([0, 1, RNG.getrandbits(64), 2 ** 63])
                ret, e = raw_ioctl(fd, IOC_RESET, arg)
                verdict("RESET %#x" % arg, e,
                        {0} if arg == 0 else {errno.EINVAL})
            else:
                addr, r, w = ar.pick()
                types = RNG.choice([0, TYPES_ALL, 1 << RNG.randrange(32),
                                    RNG.getrandbits(32),
                                    RNG.getrandbits(6) & TYPES_ALL])
                if r is not None and r >= 4:
                    ar.write(addr, struct.pack("<I", types))
                ret, e = raw_ioctl(fd, IOC_SET_TYPES, addr)
                valid = types and not types & ~TYPES_ALL
                want = ({0, errno.EINVAL, errno.EFAULT} if r is None else
                        {errno.EFAULT} if r < 4 else
                        {0} if valid else {errno.EINVAL})
                verdict("SET_TYPES %#x at %#x" % (types, addr), e, want)
        diag("results: %r" % counts)
        eq(bad[:20], [], "ioctl results")
        # still a working device, every record type again
        fcntl.ioctl(fd, IOC_SET_TYPES, struct.pack("<I", TYPES_ALL))
        s = stats(fd)
        eq(s["abi"], 1, "abi after the fuzz")
        per = stats_cpus(fd)
        eq(len(per), ncpu, "per-CPU entries")
        refused("127.0.0.1", new_port())
        t = Tally()
        time.sleep(0.2)
        drain(fd, t)
        check(t.records >= 2, "records after the fuzz: %d" % t.records)
    finally:
        os.close(fd)
    check_kernel(mark, "ioctl fuzz")


@test
def read_sizes_alignment_and_faults():
    load()
    mark = LogMark()
    fd = open_dev()
    m = Pages(4)
    m.protect(2, PROT_READ)
    m.protect(3, PROT_NONE)
    got = Tally()
    try:
        fcntl.ioctl(fd, IOC_RESET, 0)
        # every size below READ_MIN: EINVAL, at once, even when blocking
        # and nothing is buffered
        for blocking in (False, True):
            set_blocking(fd, blocking)
            for n in range(READ_MIN):
                r, e = raw_read(fd, m.page(0), n)
                eq((r, e), (-1, errno.EINVAL), "read(%d)" % n)
        set_blocking(fd, False)
        # records to read: refused connects, 7 records each
        port = new_port()
        for _ in range(40):
            refused("127.0.0.1", port)
        s0 = stats(fd)
        check(s0["produced"] >= 40 * 5 and s0["lost"] == 0,
              "records buffered: %r" % s0)
        # bad buffers: EFAULT, nothing consumed
        faults = [(0, 4096), (1, 4096), (0xffff888000000000, 4096),
                  (0xffffffff81000000, 65536), (m.page(3), 4096),
                  (m.page(2), 4096),              # read-only
                  (m.page(0), 1 << 62),           # count past user space
                  (m.page(3) - 8, 4096)]          # 8 bytes, then a hole
        for blocking in (False, True):
            set_blocking(fd, blocking)
            for addr, n in faults:
                r, e = raw_read(fd, addr, n)
                eq((r, e), (-1, errno.EFAULT), "read(%#x, %d)" % (addr, n))
        set_blocking(fd, False)
        s1 = stats(fd)
        eq((s1["delivered"], s1["buffered"]), (0, s0["buffered"]),
           "nothing consumed by faulting reads")
        # a buffer that ends in a hole: whole records up to the hole
        addr = m.page(2) - 1000
        r, e = raw_read(fd, addr, 1000 + PAGE)
        check(0 < r <= 1000 and r % 8 == 0, "partial read: %d %s" % (r, e))
        got.add(m.bytes(addr, r))
        eq(stats(fd)["delivered"], got.records, "delivered = copied")
        # unaligned buffers, every offset mod 8; and exactly READ_MIN
        for off in range(1, 8):
            r, e = raw_read(fd, m.page(0) + off, READ_MIN + off * 100)
            check(r > 0, "unaligned read at +%d: %s" % (off, errname(e)))
            got.add(m.bytes(m.page(0) + off, r))
        # a huge buffer: 16 MiB
        big = Pages(4096)
        r, e = raw_read(fd, big.addr, 4096 * PAGE)
        check(r > 0, "16 MiB read: %s" % errname(e))
        got.add(big.bytes(big.addr, r))
        drain(fd, got)
        s2 = stats(fd)
        diag("produced %d delivered %d read %d lost %d" % (
            s2["produced"], s2["delivered"], got.records, s2["lost"]))
        eq((s2["lost"], s2["buffered"]), (0, 0), "lost, buffered")
        eq(got.records, s2["produced"], "every record read exactly once")
        eq(s2["delivered"], s2["produced"], "delivered = produced")
    finally:
        os.close(fd)
    check_kernel(mark, "read fuzz")


@test
def write_mmap_lseek_rejected():
    mark = LogMark()
    fd = open_dev()
    try:
        for n in (0, 1, 300, 65536):
            try:
                os.write(fd, b"x" * n)
                raise AssertionError("write(%d) on O_RDONLY accepted" % n)
            except OSError as e:
                eq(e.errno, errno.EBADF, "write on O_RDONLY")
    finally:
        os.close(fd)
    fd = os.open(DEV, os.O_RDWR | os.O_NONBLOCK)
    try:
        for n in (1, 300, 65536):
            try:
                os.write(fd, b"x" * n)
                raise AssertionError("write(%d) accepted" % n)
            except OSError as e:
                eq(e.errno, errno.EINVAL, "write errno")
        try:
            os.pwrite(fd, b"x" * 300, 0)
            raise AssertionError("pwrite accepted")
        except OSError as e:
            check(e.errno in (errno.EINVAL, errno.ESPIPE), "pwrite errno")
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            raise AssertionError("lseek accepted")
        except OSError as e:
            eq(e.errno, errno.ESPIPE, "lseek errno")
        try:
            mmap.mmap(fd, PAGE, mmap.MAP_SHARED, mmap.PROT_READ)
            raise AssertionError("mmap accepted")
        except OSError as e:
            eq(e.errno, errno.ENODEV, "mmap errno")
        try:
            os.pread(fd, 4096, 0)
            raise AssertionError("pread accepted")
        except OSError as e:
            eq(e.errno, errno.ESPIPE, "pread errno")
        r, e = raw_ioctl(fd, 0x541B, 0)          # FIONREAD
        eq(e, errno.ENOTTY, "FIONREAD")
    finally:
        os.close(fd)
    check_kernel(mark, "write/mmap/lseek")


def _opener(stop, holders, maxseen, wins, errs):
    while not stop.is_set():
        try:
            fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.EBUSY:
                with errs.get_lock():
                    errs.value += 1
            continue
        with holders.get_lock():
            holders.value += 1
            if holders.value > maxseen.value:
                maxseen.value = holders.value
        with wins.get_lock():
            wins.value += 1
        try:
            os.read(fd, 65536)
        except OSError:
            pass
        with holders.get_lock():
            holders.value -= 1
        os.close(fd)


@test
def open_race_one_reader():
    """Openers racing for the device: never two holders at once; every
    loser gets EBUSY."""
    mark = LogMark()
    storm = Storm(mode="refused")
    stop = multiprocessing.Event()
    holders, maxseen, wins, errs = (multiprocessing.Value("i", 0)
                                    for _ in range(4))
    procs = [multiprocessing.Process(target=_opener,
                                     args=(stop, holders, maxseen, wins, errs))
             for _ in range(6)]
    for p in procs:
        p.start()
    time.sleep(size(5, 60))
    stop.set()
    for p in procs:
        p.join(60)
        if p.is_alive():
            os.kill(p.pid, signal.SIGKILL)
            raise AssertionError("an opener hung")
    storm.stop()
    diag("%d opens won, max holders %d, other errors %d" % (
        wins.value, maxseen.value, errs.value))
    check(wins.value > 10, "openers got the device")
    eq(maxseen.value, 1, "at most one reader at a time")
    eq(errs.value, 0, "losers got EBUSY, nothing else")
    fd = open_dev()                              # free again
    os.close(fd)
    check_kernel(mark, "open race")


@test
def reset_with_records_buffered():
    """TCPTRACE_IOC_RESET while records are buffered: produced =
    delivered + buffered still holds, right after and once drained (the
    buffered records count as produced after the reset)."""
    load()
    fd = open_dev()
    try:
        drain(fd, Tally())
        port = new_port()
        for _ in range(3):
            refused("127.0.0.1", port)
        time.sleep(0.3)
        before = stats(fd)
        fcntl.ioctl(fd, IOC_RESET, 0)
        after = stats(fd)
        t = Tally()
        drain(fd, t)
        drained = stats(fd)
    finally:
        os.close(fd)
    diag("before reset %r\nafter reset %r\nafter draining %d records %r" % (
        before, after, t.records, drained))
    check(before["buffered"] > 0, "records buffered at the reset")
    eq(after["produced"], after["delivered"] + after["buffered"],
       "right after the reset: produced = delivered + buffered")
    eq(drained["produced"], drained["delivered"] + drained["buffered"],
       "after draining: produced = delivered + buffered")


# what a reader in another network namespace gets: raw records on stdout
NS_READER = """
import os, sys
fd = os.open("/dev/tcptrace", os.O_RDONLY | os.O_NONBLOCK)
try:
    sys.stdout.buffer.write(os.read(fd, 1 << 20))
except BlockingIOError:
    pass
"""


@test
def fault_leftover_stays_in_its_namespace():
    """A read() that faults part-way leaves the rest of what it staged for
    the next read(): a reader scoped to another network namespace must not
    get any of it (it is counted as filtered out)."""
    load()
    need_scoped_readers()
    mark = LogMark()
    ns = "ttstage"
    sh("ip netns add %s" % ns)
    m = Pages(2)
    m.protect(1, PROT_NONE)
    try:
        fd = open_dev()
        try:
            drain(fd, Tally())
            fcntl.ioctl(fd, IOC_RESET, 0)
            port = new_port()
            for _ in range(20):
                refused("127.0.0.1", port)
            time.sleep(0.3)
            # 1000 bytes, then a hole: more than that was staged
            r, e = raw_read(fd, m.page(1) - 1000, 1000 + PAGE)
            check(0 < r <= 1000, "partial read: %d %s" % (r, errname(e)))
            s0 = stats(fd)
        finally:
            os.close(fd)
        check(s0["buffered"] > 0, "records left behind: %r" % s0)
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                              "-c", NS_READER], capture_output=True,
                             check=True).stdout
        got = [x for x in walk(out) if x[0] != 2]
        eq(len(got), 0, "records of the initial namespace the other "
           "namespace's reader got")
        fd = open_dev()
        try:
            drain(fd, Tally())
            s = stats(fd)
        finally:
            os.close(fd)
        eq((s["buffered"], s["lost"]), (0, 0), "buffered, lost")
        eq(s["produced"], s["delivered"], "produced = delivered + filtered")
    finally:
        sh("ip netns del %s" % ns, False)
    check_kernel(mark, "fault leftover")


if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv[1:], after_each=kill_tracers))
    finally:
        unload()
