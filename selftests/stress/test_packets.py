#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Crafted and random malformed packets, run as root in a guest (selftests/
stress/run.sh): frames built by hand are sent with a raw AF_PACKET socket
from one namespace into another (tcptrace's PRE_ROUTING hook sees them
before the kernel's TCP code does), and packets with broken headers are
sent through raw IP sockets (IP_HDRINCL) into a dummy interface (its
POST_ROUTING hook sees them).  Every malformation is either flagged (the
option seeds of fuzz/corpus/options and lying data offsets, counted in
--stats "malformed" and named in the handshake record's malformed_why) or
ignored (truncated TCP headers, bad IPv4 header lengths and options,
fragments, IPv6 extension headers past the packet), never a crash; a
random flood follows; the kernel log stays clean and tracing still works.
"""
import os
import random
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stresslib import *  # noqa: E402,F401,F403
from ktap import test, run  # noqa: E402
import pktlib  # noqa: E402
from pktlib import tcp, ipv4, ipv6, ether, ETH_P_IP, ETH_P_IPV6  # noqa: E402

RNG = random.Random()
SEEDS = os.path.join(HERE, "..", "..", "fuzz", "corpus", "options")
PARAMS = "hs_timeout=2 syn_timeout_ms=100"

# seed name (after "mal-") -> the label the CLI shows in malformed_why
LABELS = [("len-", "opt-len"), ("trunc", "opt-trunc"), ("mss", "mss-len"),
          ("wscale", "wscale"), ("sackok", "sackok-len"), ("ts", "ts-len"),
          ("sack", "sack-len"), ("tfo", "tfo-len"), ("md5", "md5-len"),
          ("mptcp", "mptcp-len"), ("dup", "dup"), ("doff", None)]

LISTENER = r"""
import socket, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80)); s.listen(4096)
print("ready", flush=True)
time.sleep(3600)
"""

RAW_SENDER = r"""
import socket, struct, sys
data = sys.stdin.buffer.read(); off = 0; n = 0
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
while off < len(data):
    ln = struct.unpack_from("!I", data, off)[0]
    p = data[off + 4:off + 4 + ln]; off += 4 + ln
    try:
        if p[0] >> 4 == 6:
            s6.sendto(p, (socket.inet_ntop(socket.AF_INET6, p[24:40]), 0))
        else:
            s4.sendto(p, (socket.inet_ntoa(p[16:20]), 0))
        n += 1
    except OSError:
        pass
print(n, flush=True)
"""


def label_of(name):
    rest = name[len("mal-"):]
    if rest.startswith("doff"):
        return "doff-past" if "past" in rest else "doff-short"
    for prefix, lab in LABELS:
        if rest.startswith(prefix):
            return lab
    raise AssertionError("no label for seed " + name)


class Net:
    def __init__(self):
        self.t = Topo("p", "10.209.0", "fd09::")
        self.lst = subprocess.Popen(["ip", "netns", "exec", self.t.b,
                                     sys.executable, "-c", LISTENER],
                                    stdout=subprocess.PIPE, text=True)
        eq(self.lst.stdout.readline().strip(), "ready", "listener")
        # the raw-output namespace: packets leave through a dummy device
        self.out = "ttpo"
        sh("ip netns del %s" % self.out, False)
        sh("ip netns add %s" % self.out)
        sh("ip -n {0} link add d0 type dummy && ip -n {0} link set d0 up && "
           "ip -n {0} addr add 10.210.0.1/24 dev d0 && ip -n {0} addr add "
           "fd10::1/64 dev d0 nodad".format(self.out))

    def v4(self, seg, sport=None, **kw):
        t = self.t
        return ether(t.mac_b, t.mac_a, ETH_P_IP,
                     ipv4(t.ip_a, t.ip_b, seg, **kw))

    def v6(self, payload, nexthdr=6, tcp_off=0, **kw):
        t = self.t
        return ether(t.mac_b, t.mac_a, ETH_P_IPV6,
                     ipv6(t.ip6_a, t.ip6_b, payload, nexthdr=nexthdr,
                          tcp_off=tcp_off, **kw))

    def send(self, frames):
        return self.t.send(frames)

    def send_raw(self, packets):
        r = subprocess.run(["ip", "netns", "exec", self.out, sys.executable,
                            "-c", RAW_SENDER],
                           input=pktlib.pack_frames(packets),
                           capture_output=True, timeout=600)
        eq(r.returncode, 0, "raw sender: %r" % r.stderr)
        return int(r.stdout)

    def close(self):
        self.lst.kill()
        self.lst.wait()
        self.t.close()
        sh("ip netns del %s" % self.out, False)


def malformed_count():
    fd = open_dev()
    try:
        return stats(fd)["malformed"]
    finally:
        os.close(fd)


def seed_segment(raw, sport):
    seg = bytearray(raw)
    struct.pack_into("!HHI", seg, 0, sport, 80, RNG.getrandbits(32))
    seg[13] = 0x02
    return bytes(seg)


def dstopt(nexthdr, length8=0, fill=None):
    """A destination options header of (length8 + 1) * 8 bytes, PadN."""
    n = (length8 + 1) * 8
    body = fill if fill is not None else bytes([1, n - 4]) + bytes(n - 4)
    return bytes([nexthdr, length8]) + body[:n - 2]


def syn(sport, dport=80, **kw):
    return tcp(sport, dport, 0x02, seq=RNG.getrandbits(32),
               opts=kw.pop("opts", bytes([2, 4, 5, 0xb4, 4, 2, 1, 1])), **kw)


@test
def flagged_malformations():
    """Each malformed-options seed and each lying data offset, as a SYN
    over IPv4 and IPv6: counted once, named in the handshake record."""
    load(PARAMS)
    mark = LogMark()
    net = Net()
    try:
        m0 = malformed_count()
        t = Tracer("--handshakes")
        seeds = sorted(f for f in os.listdir(SEEDS) if f.startswith("mal-"))
        check(len(seeds) >= 20, "malformed seeds in %s" % SEEDS)
        want = {}
        frames = []
        sport = 30000
        for name in seeds:
            with open(os.path.join(SEEDS, name), "rb") as f:
                raw = f.read()
            for fam in (4, 6):
                sport += 1
                seg = seed_segment(raw, sport)
                frames.append(net.v4(seg) if fam == 4 else net.v6(seg))
                want[sport] = (name, fam, label_of(name))
        # lying data offsets beyond the seeds: every doff below 5, and
        # past the segment by one word and by all
        for doff in (0, 1, 2, 3, 4, 6, 15):
            for fam in (4, 6):
                sport += 1
                seg = syn(sport, opts=b"", doff=doff)
                frames.append(net.v4(seg) if fam == 4 else net.v6(seg))
                want[sport] = ("doff=%d" % doff, fam,
                               "doff-short" if doff < 5 else "doff-past")
        # a lying offset behind IPv6 extension headers: destination
        # options, routing (type 0, no segments left), fragment (offset
        # 0, last), then TCP
        sport += 1
        frames.append(net.v6(dstopt(43, 0) + bytes([44, 0, 0, 0, 0, 0, 0,
                                                    0]) +
                             bytes([6, 0, 0, 0, 0, 0, 0, 1]) +
                             syn(sport, opts=b"", doff=3),
                             nexthdr=60, tcp_off=24))
        want[sport] = ("ext headers, doff=3", 6, "doff-short")
        eq(net.send(frames), len(frames), "frames sent")
        got = {}
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            for r in t.lines():
                if r.get("type") != "handshake" or r.get("role") != "server":
                    continue
                if r.get("sport") == 80 and r.get("dport") in want:
                    got[r["dport"]] = r
            if len(got) == len(want):
                break
            time.sleep(0.5)
        t.stop(marker=None)
        m1 = malformed_count()
        diag("%d malformed SYNs sent, malformed counter +%d, %d handshake "
             "records" % (len(want), m1 - m0, len(got)))
        missing = sorted("%s/v%d" % want[p][:2] for p in want if p not in got)
        eq(missing, [], "a handshake record for each malformed SYN")
        wrong = []
        for p, (name, fam, lab) in sorted(want.items()):
            o = got[p]["syn_opts"]
            if not o or not o["malformed"] or lab not in o["malformed_why"]:
                wrong.append("%s/v%d: want %s, got %r" % (
                    name, fam, lab, o and o["malformed_why"]))
        eq(wrong, [], "malformed_why of each")
        eq(m1 - m0, len(want), "malformed counter: once per SYN")
    finally:
        net.close()
    check_kernel(mark, "flagged malformations")


@test
def ignored_malformations():
    """Broken headers that leave no TCP header to parse: no record, no
    count, no crash, whichever way they come."""
    load(PARAMS)
    mark = LogMark()
    net = Net()
    try:
        frames = []
        sp = 40000
        # TCP shorter than a header, SYN bit where byte 13 would be
        for n in (0, 1, 8, 13, 14, 19):
            sp += 1
            seg = syn(sp)[:n]
            frames.append(net.v4(seg, tcp_csum=False))
            frames.append(net.v6(seg, tcp_off=None))
        # IPv4 header length lies: below 5, past the packet (ip_rcv drops
        # these before any hook; sent anyway)
        for ihl in (0, 4, 15):
            sp += 1
            frames.append(net.v4(syn(sp), ihl=ihl))
        # IPv4 options that make no sense, header checksum right: the
        # hook sees them (options are checked after PRE_ROUTING)
        for opts in (bytes([0x44, 0xff, 5, 0]), bytes([0x83, 1, 0, 0]),
                     bytes([0x07, 0, 0, 0]), bytes([0x94, 0x28] + [0] * 38),
                     bytes(RNG.getrandbits(8) for _ in range(40))):
            sp += 1
            frames.append(net.v4(syn(sp), ihl=5 + len(opts) // 4,
                                 ip_opts=opts))
        # fragments: a first one cut inside the TCP header, a later one
        # that looks like a SYN, of two datagrams (IP IDs).  Of one, the
        # stack would reassemble them before LOCAL_IN, where tcptrace
        # looks, and deliver a TCP segment like any other (its options
        # parsed, and counted if malformed): not a header that lies.
        sp += 1
        frames.append(net.v4(syn(sp)[:8], frag=0x2000, tcp_csum=False,
                             ident=0x1f01))
        frames.append(net.v4(syn(sp), frag=1, tcp_csum=False, ident=0x1f02))
        # IPv6: destination options past the packet, AH past the packet,
        # truncated hop-by-hop, no next header, a later fragment, payload
        # length cutting the TCP header
        sp += 1
        frames.append(net.v6(bytes([6, 255]) + bytes(6) + syn(sp),
                             nexthdr=60, tcp_off=8))
        frames.append(net.v6(bytes([6, 200]) + bytes(10) + syn(sp),
                             nexthdr=51, tcp_off=12))
        frames.append(net.v6(bytes([6, 100, 1, 4]) + bytes(4) + syn(sp),
                             nexthdr=0, tcp_off=8))
        frames.append(net.v6(syn(sp), nexthdr=59))
        frames.append(net.v6(bytes([6, 0, 0, 0x08, 0, 0, 0, 1]) + syn(sp),
                             nexthdr=44, tcp_off=8))
        frames.append(net.v6(syn(sp), plen=10))
        # a long chain of destination options, then a TCP header cut short
        chain = b"".join(dstopt(60, 0) for _ in range(63)) + dstopt(6, 0)
        frames.append(net.v6(chain + syn(sp)[:12], nexthdr=60,
                             tcp_off=None))
        fd = open_dev()
        drain(fd, Tally())
        m0 = stats(fd)["malformed"]
        s0 = stats(fd)
        eq(net.send(frames), len(frames), "frames sent")
        # the same kinds of lies leaving through raw sockets (POST_ROUTING)
        raw = []
        for ihl in (4, 6, 15):
            raw.append(ipv4("10.210.0.1", "10.210.0.2",
                            syn(sp)[:10] + bytes(60), ihl=ihl,
                            tcp_csum=False))
        raw.append(ipv4("10.210.0.1", "10.210.0.2", syn(sp)[:12],
                        tcp_csum=False))
        raw.append(ipv6("fd10::1", "fd10::2", bytes([6, 255, 1, 4]) +
                        bytes(4) + syn(sp), nexthdr=0))
        raw.append(ipv6("fd10::1", "fd10::2", bytes([6, 255]) + bytes(6) +
                        syn(sp), nexthdr=60))
        raw.append(ipv6("fd10::1", "fd10::2", syn(sp)[:13]))
        sent_raw = net.send_raw(raw)
        time.sleep(1)
        t = Tally()
        drain(fd, t)
        s1 = stats(fd)
        os.close(fd)
        diag("%d frames and %d raw packets (%d sent): %d records, "
             "malformed +%d" % (len(frames), len(raw), sent_raw, t.records,
                                s1["malformed"] - m0))
        eq(s1["malformed"] - m0, 0, "nothing counted as malformed options")
        check(s1["produced"] - s0["produced"] <= 10,
              "(almost) no records from broken headers")
    finally:
        net.close()
    check_kernel(mark, "ignored malformations")


def random_v4(net, sp):
    ihl = RNG.choice([5, 5, 5, RNG.randrange(16)])
    opts = bytes(RNG.getrandbits(8) for _ in range(max(0, ihl - 5) * 4))
    seg = bytearray(RNG.getrandbits(8) for _ in range(RNG.randrange(0, 80)))
    if len(seg) > 13:
        seg[13] |= 0x02
        struct.pack_into("!HH", seg, 0, sp, 80)
    return net.v4(bytes(seg), ihl=ihl, ip_opts=opts,
                  frag=RNG.choice([0, 0, 0, 0x2000, 1, RNG.getrandbits(16)]),
                  tcp_csum=RNG.random() < 0.5)


def random_v6(net, sp):
    hdrs, nh = b"", 6
    for _ in range(RNG.randrange(4)):
        k = RNG.choice([0, 43, 44, 60, 51])
        ln = RNG.choice([0, 0, 1, RNG.randrange(256)])
        body = bytes(RNG.getrandbits(8) for _ in range(6 + RNG.randrange(16)))
        hdrs = bytes([nh, ln]) + body + hdrs
        nh = k
    seg = bytearray(RNG.getrandbits(8) for _ in range(RNG.randrange(0, 80)))
    if len(seg) > 13:
        seg[13] |= 0x02
        struct.pack_into("!HH", seg, 0, sp, 80)
    return net.v6(hdrs + bytes(seg), nexthdr=nh, tcp_off=len(hdrs))


@test
def random_packet_flood():
    load(PARAMS)
    mark = LogMark()
    net = Net()
    seed = int(os.environ.get("TCPTRACE_SEED", "0")) or RNG.getrandbits(32)
    RNG.seed(seed)
    diag("TCPTRACE_SEED=%d reproduces this run" % seed)
    n = scaled(size(1500, 30000), 500)
    try:
        fd = open_dev()
        m0 = stats(fd)["malformed"]
        frames = [(random_v4 if RNG.random() < 0.5 else random_v6)(
            net, 50000 + i % 10000) for i in range(n)]
        sent = 0
        t = Tally()
        for i in range(0, n, 500):
            sent += net.send(frames[i:i + 500])
            drain(fd, t)
        raw = [f[14:] for f in frames[:scaled(size(500, 5000), 100)]]
        sent_raw = net.send_raw([retarget(p) for p in raw])
        time.sleep(2)
        drain(fd, t)
        s = stats(fd)
        os.close(fd)
        diag("%d random frames (%d sent), %d raw (%d sent): %d records, "
             "malformed +%d" % (n, sent, len(raw), sent_raw, t.records,
                                s["malformed"] - m0))
        eq(sent, n, "frames sent")
        # still tracing: a connection on loopback is seen
        tr = Tracer()
        recs = tr.stop()
        check(any(r.get("type") == "state" for r in recs), "still tracing")
    finally:
        net.close()
    check_kernel(mark, "random packets")


def retarget(p):
    """Point a random packet at the dummy interface's subnet."""
    p = bytearray(p)
    if p and p[0] >> 4 == 6 and len(p) >= 40:
        p[8:24] = socket.inet_pton(socket.AF_INET6, "fd10::1")
        p[24:40] = socket.inet_pton(socket.AF_INET6, "fd10::2")
    elif len(p) >= 20:
        p[12:16] = socket.inet_aton("10.210.0.1")
        p[16:20] = socket.inet_aton("10.210.0.2")
    return bytes(p)


if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv[1:], after_each=kill_tracers))
    finally:
        unload()
