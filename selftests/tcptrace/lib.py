# SPDX-License-Identifier: GPL-2.0
"""Helpers shared by the guest tests: module loading, the CLI as a
background tracer, the device's ioctls, network namespaces joined by veth
pairs, nftables and Python in them, diagnosis lookups."""
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

from ktap import check, eq, diag
import schema

KO = os.environ["TCPTRACE_KO"]
CLI = os.environ["TCPTRACE_CLI"]
DEV = "/dev/tcptrace"
SO_COOKIE = 57
# How much slower than a Debian kernel the guest's kernel is: the debug
# kernel (lockdep, KASAN, PREEMPT_RT) under TCG runs about 5 times slower
# (selftests/debug/check.sh sets it).  Time bounds are multiplied by it,
# and the few long loops divided; the checks stay the same.
SLOWDOWN = float(os.environ.get("TCPTRACE_SLOWDOWN", "1"))

TIMEOUT = 60 * SLOWDOWN

# From module/uapi/tcptrace.h
IOC_MAGIC = 0xE7
READ_MIN = 256
HDR = struct.Struct("<HHBBHIIQ")        # type size version ctx cpu lost rsvd ts


def ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (IOC_MAGIC << 8) | nr


IOC_VERSION = ioc(2, 1, 4)
IOC_STATS = ioc(3, 2, 88)
IOC_RESET = ioc(0, 3, 0)
IOC_SET_TYPES = ioc(1, 4, 4)

_port = [20000]


def new_port():
    _port[0] += 1
    return _port[0]


def sh(cmd, check_rc=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check_rc and r.returncode:
        raise AssertionError("%s: rc %d: %s" % (cmd, r.returncode, r.stderr))
    return r


def load(params=""):
    unload()
    sh("insmod %s %s" % (KO, params))
    deadline = time.time() + 10
    while not os.path.exists(DEV):
        check(time.time() < deadline, "%s did not appear" % DEV)
        time.sleep(0.05)


def unload():
    if os.path.exists("/sys/module/tcptrace"):
        sh("rmmod tcptrace")


def cookie(s):
    return struct.unpack("<Q", s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]


def netns_ino(path="/proc/self/ns/net"):
    return os.stat(path).st_ino


_live = []


def kill_tracers():
    """After each test: no tracer outlives it, even a failed one."""
    while _live:
        t = _live.pop()
        if t.p.poll() is None:
            t.p.kill()
            t.p.wait()


class Tracer:
    """The CLI in JSON mode, in the background, output to a file."""

    def __init__(self, *args, prefix=()):
        self.out = tempfile.NamedTemporaryFile("w+", suffix=".json",
                                               delete=False)
        self.err = tempfile.NamedTemporaryFile("w+", suffix=".err",
                                               delete=False)
        self.p = subprocess.Popen([*prefix, CLI, "-j", *args], stdout=self.out,
                                  stderr=self.err)
        _live.append(self)
        # wait until the CLI holds the device open
        deadline = time.time() + TIMEOUT
        while not self._holds_device():
            check(self.p.poll() is None, "tracer exited: %s" % self.errors())
            check(time.time() < deadline, "tracer never opened the device")
            time.sleep(0.05)

    @staticmethod
    def _holds_device():
        """Does any process hold the device (ours may be a child of
        ip netns exec)?  There is one reader at a time."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                for fd in os.listdir("/proc/%s/fd" % pid):
                    # another mount namespace may see it under a prefix
                    if os.readlink("/proc/%s/fd/%s" % (pid, fd)).endswith(DEV):
                        return True
            except OSError:
                pass
        return False

    def errors(self):
        self.err.seek(0)
        return self.err.read()

    def lines(self):
        self.out.flush()
        with open(self.out.name) as f:
            text = f.read()
        # a line still being written is not a record yet
        lines = text.split("\n")[:-1]
        return [json.loads(x) for x in lines if x.strip()]

    def wait_for(self, pred, what):
        deadline = time.time() + TIMEOUT
        while True:
            if any(pred(r) for r in self.lines()):
                return
            if self.p.poll() is not None:
                break
            check(time.time() < deadline, "timed out waiting for " + what)
            time.sleep(0.1)
        check(any(pred(r) for r in self.lines()),
              "tracer exited before " + what)

    def stop(self, marker=("127.0.0.1", None)):
        """Make a refused connection to a closed port and stop once the
        tracer has printed it: everything before it has been read."""
        if marker is not None:
            host, port = marker
            port = port or new_port()
            refused(host, port)
            # its state record, or with --handshakes its handshake record
            self.wait_for(lambda r: r.get("dport") == port and
                          (r.get("new") == "CLOSE" or
                           r.get("role") == "client" or
                           r.get("diag") == "rst_in" or
                           r.get("type") == "conn"),
                          "marker on port %d" % port)
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(TIMEOUT)
        eq(rc, 0, "tracer exit code (stderr: %s)" % self.errors())
        return [schema.valid(r) for r in self.lines()]


def refused(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("connect to %s:%d was not refused" % (host, port))
    finally:
        s.close()


def read_records(buf):
    off, out = 0, []
    while off < len(buf):
        typ, size, ver, ctx, cpu, lost, _, ts = HDR.unpack_from(buf, off)
        check(size >= HDR.size and size % 8 == 0 and off + size <= len(buf),
              "whole record at %d (size %d of %d)" % (off, size, len(buf)))
        out.append((typ, size, lost, buf[off:off + size]))
        off += size
    return out


def stats(fd):
    b = bytearray(88)
    fcntl.ioctl(fd, IOC_STATS, b)
    (abi, ncpu, _, produced, lost, delivered, buffered, conn_capacity,
     conn_in_use, conn_evicted, conn_timeouts, malformed) = struct.unpack(
        "<IIQQQQQQQQQQ", b)
    return dict(abi=abi, produced=produced, lost=lost, delivered=delivered,
                buffered=buffered, conn_capacity=conn_capacity,
                conn_in_use=conn_in_use, conn_evicted=conn_evicted,
                conn_timeouts=conn_timeouts, malformed=malformed)


def mac_of(ns, dev):
    return sh("ip -n %s -br link show %s" % (ns, dev)).stdout.split()[2]


def send_l2(ns, dev, dst_mac, pkts, gap=0.0):
    """Send scapy packets (@pkts: expressions over IP and TCP) out of
    @dev in @ns to @dst_mac, at layer 2.  Scapy's layer-3 send resolves
    the MAC itself with a 2 s ARP timeout; a slow (debug) kernel may miss
    it, scapy then broadcasts, and TCP ignores a frame not sent to its
    host."""
    # scapy's own modules, not scapy.all (three times its start-up)
    code = ("import time\nfrom scapy.config import conf\n"
            "from scapy.layers.l2 import Ether\n"
            "from scapy.layers.inet import IP, TCP\n"
            "from scapy.sendrecv import sendp\nconf.verb = 0\n")
    for p in pkts:
        code += "sendp(Ether(dst='%s')/%s, iface='%s')\ntime.sleep(%f)\n" % (
            dst_mac, p, dev, gap)
    ns_py(ns, code)


# Python for ns_bg(): a listener on a port (%d), until the test kills it
# or closes its stdin.  Not for a fixed time: that ran out under the debug
# kernel, where importing scapy alone takes two minutes, and the test's
# SYN then met a closed port.
LISTENER = ("import socket, sys\nls = socket.socket()\n"
            "ls.bind(('0.0.0.0', %d)); ls.listen()\n"
            "print('ready', flush=True)\nsys.stdin.read()")


def ns_py(ns, code, timeout=TIMEOUT, check_rc=True):
    r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code],
                       capture_output=True, text=True, timeout=timeout)
    if check_rc:
        eq(r.returncode, 0, "python in %s: %s" % (ns, r.stderr))
    return r


def ns_bg(ns, code, procs=None):
    """Python in @ns in the background, once it has printed "ready"; in
    @procs (to be killed) before it is waited for."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-u", "-c",
                          code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    if procs is not None:
        procs.append(p)
    eq(p.stdout.readline().strip(), "ready", "background python in %s" % ns)
    return p


def nft(ns, ruleset):
    r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                       input=ruleset, capture_output=True, text=True)
    eq(r.returncode, 0, "nft in %s: %s" % (ns, r.stderr))


class Netns:
    """Network namespaces made fresh on entry; on exit the processes bg()
    started in them are killed and the namespaces (their links, routes and
    nftables with them) deleted."""

    def __init__(self, *names):
        self.names, self.procs = names, []

    def __enter__(self):
        for ns in self.names:
            sh("ip netns del %s" % ns, False)
            sh("ip netns add %s && ip -n %s link set lo up" % (ns, ns))
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in self.names:
            sh("ip netns del %s" % ns, False)

    def bg(self, ns, code):
        return ns_bg(ns, code, self.procs)

    @staticmethod
    def ino(ns):
        return netns_ino("/run/netns/" + ns)

    @staticmethod
    def link(ns1, d1, a1, ns2, d2, a2):
        """veth d1 in ns1 (address a1/24) to d2 in ns2 (a2/24); an address
        None: none."""
        sh("ip link add %s netns %s type veth peer name %s netns %s"
           % (d1, ns1, d2, ns2))
        for ns, d, a in ((ns1, d1, a1), (ns2, d2, a2)):
            if a:
                sh("ip -n %s addr add %s/24 dev %s" % (ns, a, d))
            sh("ip -n %s link set %s up" % (ns, d))


class Net(Netns):
    """Two namespaces: c (10.210.1.2) and s (10.210.1.1) on one link.  With
    a router: c (10.210.1.2) - r - s (10.210.2.2), r forwarding, so packets
    crossing it lose one TTL."""

    def __init__(self, router=False):
        super().__init__(*(("ttc", "ttr", "tts") if router else
                           ("ttc", "tts")))
        self.router = router

    def __enter__(self):
        super().__enter__()
        if self.router:
            self.link("ttc", "c0", "10.210.1.2", "ttr", "r0", "10.210.1.1")
            self.link("ttr", "r1", "10.210.2.1", "tts", "s0", "10.210.2.2")
            sh("ip -n ttc route add default via 10.210.1.1")
            sh("ip -n tts route add default via 10.210.2.1")
            sh("ip netns exec ttr sysctl -qw net.ipv4.ip_forward=1")
            self.server = "10.210.2.2"
        else:
            self.link("ttc", "c0", "10.210.1.2", "tts", "s0", "10.210.1.1")
            self.server = "10.210.1.1"
        return self

    def send_to_server(self, pkts, gap=0.0):
        """Crafted packets (send_l2) from the client's c0 to the next
        hop's MAC: the server's s0, or the router's r0."""
        nxt = ("ttr", "r0") if self.router else ("tts", "s0")
        send_l2("ttc", "c0", mac_of(*nxt), pkts, gap)


def diags(recs, kind=None, **kw):
    out = [r for r in recs if r["type"] == "diag" and
           (kind is None or r["diag"] == kind)]
    return [r for r in out if all(r.get(k) == v for k, v in kw.items())]


def one(recs, kind, what, **kw):
    d = diags(recs, kind, **kw)
    check(len(d) >= 1, "%s: no %s diagnosis with %r in %r" % (
        what, kind, kw, diags(recs)))
    diag("%s: %s" % (what, d[0]["explain"]))
    return d[0]


KVER = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])


def rst_reason(d, names):
    """An RST this host sent names the kernel's reset reason (one of
    @names) where the kernel gives one (6.10+), else says it has none."""
    if KVER >= (6, 10):
        check(d["reason"] in names, "kernel's reset reason %r, want one of "
              "%r" % (d["reason"], names))
        check("[kernel reset reason: %s" % d["reason"] in d["explain"],
              d["explain"])
        if d["meaning"]:
            check("%s: %s. Check: %s]" % (d["reason"], d["meaning"],
                                          d["check"]) in d["explain"],
                  "the reason explained: %s" % d["explain"])
    else:
        eq(d["reason"], None, "no reset reasons before 6.10")
        check("no kernel reset reason before Linux 6.10" in d["explain"],
              d["explain"])


def drop_reason(d, name, what):
    """A SYN the kernel dropped names its drop reason @name (None: any
    real one) where the kernel gives drop reasons (5.17+), else says
    that it gives none, and claims no cause it cannot know."""
    if KVER >= (5, 17):
        eq(d["cause"], "drop_reason", "%s: the kernel's drop reason" % what)
        if name:
            eq(d["reason"], name, what)
        check(d["reason"] not in (None, "NOT_SPECIFIED"), d)
        check(not d["no_drop_reason"], "%s: reason available" % what)
    else:
        eq((d["cause"], d["reason"], d["no_drop_reason"]),
           ("unanswered", None, True), "%s: no drop reasons before 5.17"
           % what)
        check("gives no drop reasons" in d["explain"], d["explain"])
