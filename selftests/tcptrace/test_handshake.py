#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Option negotiation tests, run as root inside a guest by selftests/run.sh.

Every handshake is captured by tcpdump in the same test, and tcptrace's
decoding of the SYN and SYN-ACK options is compared with tcpdump's
decoding of the same packets (an independent oracle).  What the kernel
agreed is checked against the sysctls and socket options that decide it.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import test, run, check, eq, diag  # noqa: E402
from lib import (load, unload, new_port, sh, Tracer, netns_ino,  # noqa: E402
                 stats, DEV, TIMEOUT, kill_tracers, SLOWDOWN)

TCP_MAXSEG = 2


class Capture:
    """tcpdump of SYNs and RSTs on one interface, in one namespace."""

    def __init__(self, iface="lo", netns=None):
        self.pcap = "/tmp/hs-%d.pcap" % new_port()
        # tcp[] only reaches IPv4; IPv6 TCP flags are at ip6[40 + 13]
        # (the tests send no extension headers)
        cmd = ["tcpdump", "-i", iface, "-nn", "-U", "--immediate-mode",
               "-w", self.pcap,
               "(tcp[tcpflags] & (tcp-syn|tcp-rst) != 0) or "
               "(ip6 and tcp and ip6[53] & 0x06 != 0)"]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        # tcpdump says "listening on" once the capture is live
        line = self.p.stderr.readline()
        check("listening on" in line, "tcpdump did not start: " + line)

    def packets(self):
        time.sleep(0.3)
        self.p.send_signal(signal.SIGINT)
        self.p.wait(TIMEOUT)
        out = subprocess.run(["tcpdump", "-r", self.pcap, "-nn", "-v"],
                             capture_output=True, text=True).stdout
        os.unlink(self.pcap)
        return parse_tcpdump(out)


def parse_tcpdump(text):
    """tcpdump -v output -> list of dicts, one per packet."""
    pkts, cur = [], ""
    for line in text.splitlines():
        if line.startswith((" ", "\t")):
            cur += " " + line.strip()
            continue
        if cur:
            pkts.append(cur)
        cur = line
    if cur:
        pkts.append(cur)
    out = []
    for p in pkts:
        m = re.search(r" ([0-9a-f.:]+)\.(\d+) > ([0-9a-f.:]+)\.(\d+): "
                      r"Flags \[([^\]]*)\]", p)
        if not m:
            continue
        d = dict(src=m.group(1), sport=int(m.group(2)), dst=m.group(3),
                 dport=int(m.group(4)), flags=m.group(5))
        ttl = re.search(r"(?:ttl|hlim) (\d+)", p)
        d["ttl"] = int(ttl.group(1)) if ttl else None
        ipid = re.search(r" id (\d+),", p)
        d["ip_id"] = int(ipid.group(1)) if ipid else None
        win = re.search(r" win (\d+)", p)
        d["win"] = int(win.group(1)) if win else None
        opts = re.search(r"options \[([^\]]*)\]", p)
        d["opts"] = tcpdump_opts(opts.group(1) if opts else "")
        out.append(d)
    return out


def tcpdump_opts(s):
    o = dict(mss=None, wscale=None, sack_perm=False, ts_val=None, ts_ecr=None)
    for item in [x.strip() for x in s.split(",") if x.strip()]:
        w = item.split()
        if w[0] == "mss":
            o["mss"] = int(w[1])
        elif w[0] == "wscale":
            o["wscale"] = int(w[1])
        elif w[0] == "sackOK":
            o["sack_perm"] = True
        elif w[0] == "TS":
            o["ts_val"], o["ts_ecr"] = int(w[2]), int(w[4])
    return o


def same_opts(ours, theirs, what):
    check(ours is not None, what + ": not recorded")
    for k in ("mss", "wscale", "sack_perm", "ts_val", "ts_ecr"):
        eq(ours[k], theirs["opts"][k], "%s %s (tcpdump: %s)" % (what, k,
                                                              theirs))
    eq(ours["ttl"], theirs["ttl"], what + " ttl/hop limit")
    eq(ours["window"], theirs["win"], what + " window")
    if theirs["ip_id"] is not None:
        eq(ours["ip_id"], theirs["ip_id"], what + " IP ID")
    eq(ours["ecn"], "E" in theirs["flags"], what + " ECN setup")
    eq(ours["malformed"], False, what + " malformed")


def handshakes(recs, port):
    hs = [r for r in recs if r["type"] == "handshake" and
          port in (r["sport"], r["dport"])]
    cl = [r for r in hs if r["role"] == "client"]
    sv = [r for r in hs if r["role"] == "server"]
    return cl, sv


def pair(pkts, port):
    syn = [p for p in pkts if p["dport"] == port and p["flags"] in ("S", "SEW")]
    synack = [p for p in pkts if p["sport"] == port and
              p["flags"].startswith("S.")]
    check(len(syn) == 1 and len(synack) == 1,
          "tcpdump saw one SYN and one SYN-ACK on port %d: %r" % (port, pkts))
    return syn[0], synack[0]


def talk(host, port, fam=socket.AF_INET, client_ns=None, server_ns=None,
         maxseg=None):
    """One connection host:port, client and server in the given netns."""
    server = ("import socket\n"
              "ls = socket.socket(%d); ls.bind((%r, %d)); ls.listen()\n"
              "print('ready', flush=True)\n"
              "a, _ = ls.accept(); a.recv(10); a.close()\n") % (fam, host, port)
    client = ("import socket\n"
              "c = socket.socket(%d)\n" % fam +
              ("c.setsockopt(socket.IPPROTO_TCP, %d, %d)\n" % (TCP_MAXSEG, maxseg)
               if maxseg else "") +
              "c.connect((%r, %d)); c.sendall(b'x'); c.recv(1); c.close()\n"
              % (host, port))

    def cmd(ns, code):
        return (["ip", "netns", "exec", ns] if ns else []) + ["python3", "-c", code]

    srv = subprocess.Popen(cmd(server_ns, server), stdout=subprocess.PIPE,
                           text=True)
    eq(srv.stdout.readline().strip(), "ready", "server ready")
    r = subprocess.run(cmd(client_ns, client), capture_output=True, text=True,
                       timeout=TIMEOUT)
    eq(r.returncode, 0, "client: " + r.stderr)
    eq(srv.wait(TIMEOUT), 0, "server exit")


def negotiate(host, port, fam=socket.AF_INET, iface="lo", cap_ns=None,
              **kw):
    """Run one connection under tcptrace and tcpdump; return
    (client handshake, server handshake, tcpdump SYN, tcpdump SYN-ACK)."""
    t = Tracer("--handshakes")
    cap = Capture(iface, cap_ns)
    talk(host, port, fam, **kw)
    pkts = cap.packets()
    recs = t.stop()
    cl, sv = handshakes(recs, port)
    eq((len(cl), len(sv)), (1, 1), "one handshake record per end")
    syn, synack = pair(pkts, port)
    cl, sv = cl[0], sv[0]
    for r in (cl, sv):
        eq(r["outcome"], "established", "outcome")
        same_opts(r["syn_opts"], syn, r["role"] + " syn_opts")
        same_opts(r["synack_opts"], synack, r["role"] + " synack_opts")
        check(r["syn_opts"]["seen_ns"] <= r["synack_opts"]["seen_ns"] <=
              r["done_ns"], "SYN -> SYN-ACK -> ACK timing order")
    return cl, sv, syn, synack


def check_agreed(cl, sv, ws, ts, sack, ecn):
    for r in (cl, sv):
        a = r["agreed"]
        eq((a["ts"], a["sack"], a["ecn"]), (ts, sack, ecn),
           r["role"] + " agreed ts/sack/ecn")
        if ws:
            mine = "syn_opts" if r["role"] == "client" else "synack_opts"
            peer = "synack_opts" if r["role"] == "client" else "syn_opts"
            eq((a["snd_wscale"], a["rcv_wscale"]),
               (r[peer]["wscale"], r[mine]["wscale"]),
               r["role"] + " window scale each way")
        else:
            eq((a["snd_wscale"], a["rcv_wscale"]), (None, None),
               r["role"] + " window scaling off")
    # each end uses what the other announced (clamped by its own route)
    check(cl["agreed"]["peer_mss"] <= cl["synack_opts"]["mss"],
          "client peer_mss <= server's announced MSS")
    check(sv["agreed"]["peer_mss"] <= sv["syn_opts"]["mss"],
          "server peer_mss <= client's announced MSS")


@test
def loopback_ipv4_defaults():
    load()
    cl, sv, syn, synack = negotiate("127.0.0.1", new_port())
    check_agreed(cl, sv, ws=True, ts=True, sack=True, ecn=False)
    eq((cl["family"], cl["saddr"], sv["saddr"]), (4, "127.0.0.1", "127.0.0.1"),
       "endpoints")
    eq(cl["sport"], sv["dport"], "same connection, both ends")


@test
def loopback_ipv6_defaults():
    cl, sv, syn, synack = negotiate("::1", new_port(), socket.AF_INET6)
    check_agreed(cl, sv, ws=True, ts=True, sack=True, ecn=False)
    eq(cl["family"], 6, "family")
    eq(cl["syn_opts"]["ip_id"], None, "no IP ID in IPv6")


class Pair:
    """Two namespaces joined by a veth pair: tta (10.198.0.1, fd98::1)
    and ttb (10.198.0.2, fd98::2)."""

    def __enter__(self):
        for ns in ("tta", "ttb"):
            sh("ip netns del %s" % ns, False)
            sh("ip netns add %s && ip -n %s link set lo up" % (ns, ns))
        sh("ip link add va netns tta type veth peer name vb netns ttb")
        for ns, dev, n in (("tta", "va", 1), ("ttb", "vb", 2)):
            sh("ip -n %s addr add 10.198.0.%d/24 dev %s" % (ns, n, dev))
            sh("ip -n %s addr add fd98::%d/64 dev %s nodad" % (ns, n, dev))
            sh("ip -n %s link set %s up" % (ns, dev))
        return self

    def sysctl(self, ns, **kv):
        for k, v in kv.items():
            sh("ip netns exec %s sysctl -qw net.ipv4.%s=%s" % (ns, k, v))

    def __exit__(self, *exc):
        sh("ip netns del tta", False)
        sh("ip netns del ttb", False)


@test
def veth_between_namespaces_v4_and_v6():
    with Pair():
        cl, sv, _, _ = negotiate("10.198.0.2", new_port(), iface="vb",
                                 cap_ns="ttb", client_ns="tta",
                                 server_ns="ttb")
        check_agreed(cl, sv, ws=True, ts=True, sack=True, ecn=False)
        eq((cl["netns"], sv["netns"]),
           (netns_ino("/run/netns/tta"), netns_ino("/run/netns/ttb")),
           "each end in its own namespace")
        cl, sv, _, _ = negotiate("fd98::2", new_port(), socket.AF_INET6,
                                 iface="vb", cap_ns="ttb", client_ns="tta",
                                 server_ns="ttb")
        check_agreed(cl, sv, ws=True, ts=True, sack=True, ecn=False)


@test
def server_without_window_scaling_and_timestamps():
    with Pair() as p:
        p.sysctl("ttb", tcp_window_scaling=0, tcp_timestamps=0)
        cl, sv, syn, synack = negotiate("10.198.0.2", new_port(), iface="vb",
                                        cap_ns="ttb", client_ns="tta",
                                        server_ns="ttb")
        eq((cl["syn_opts"]["wscale"] is not None,
            cl["syn_opts"]["ts_val"] is not None), (True, True),
           "client still offers wscale and TS")
        eq((sv["synack_opts"]["wscale"], sv["synack_opts"]["ts_val"]),
           (None, None), "server answers without them")
        check_agreed(cl, sv, ws=False, ts=False, sack=True, ecn=False)


@test
def sack_off_on_one_side():
    with Pair() as p:
        p.sysctl("tta", tcp_sack=0)
        cl, sv, _, _ = negotiate("10.198.0.2", new_port(), iface="vb",
                                 cap_ns="ttb", client_ns="tta",
                                 server_ns="ttb")
        eq(cl["syn_opts"]["sack_perm"], False, "client offers no sackOK")
        check_agreed(cl, sv, ws=True, ts=True, sack=False, ecn=False)


@test
def mss_clamped_by_tcp_maxseg():
    cl, sv, syn, _ = negotiate("127.0.0.1", new_port(), maxseg=1000)
    eq(cl["syn_opts"]["mss"], 1000, "client announces the clamped MSS")
    check(sv["agreed"]["mss"] <= 1000, "server sends at most 1000-byte "
          "segments: %r" % sv["agreed"])
    eq(sv["agreed"]["peer_mss"], 1000, "server's view of the peer MSS")


@test
def mss_clamped_by_route_advmss():
    with Pair():
        sh("ip -n tta route change 10.198.0.0/24 dev va advmss 1200")
        cl, sv, _, _ = negotiate("10.198.0.2", new_port(), iface="vb",
                                 cap_ns="ttb", client_ns="tta",
                                 server_ns="ttb")
        eq(cl["syn_opts"]["mss"], 1200, "route advmss announced")
        # advmss: what it expects to receive, less the 12 bytes of TS
        eq(cl["agreed"]["advmss"], 1200 - 12, "client's own advmss")
        check(sv["agreed"]["mss"] <= 1200, "server segments <= 1200")


@test
def ecn_both_sides_and_one_side():
    with Pair() as p:
        p.sysctl("tta", tcp_ecn=1)
        p.sysctl("ttb", tcp_ecn=1)
        cl, sv, syn, synack = negotiate("10.198.0.2", new_port(), iface="vb",
                                        cap_ns="ttb", client_ns="tta",
                                        server_ns="ttb")
        eq((cl["syn_opts"]["ecn"], cl["synack_opts"]["ecn"]), (True, True),
           "ECN offered and accepted")
        check_agreed(cl, sv, ws=True, ts=True, sack=True, ecn=True)
        p.sysctl("ttb", tcp_ecn=0)
        cl, sv, syn, synack = negotiate("10.198.0.2", new_port(), iface="vb",
                                        cap_ns="ttb", client_ns="tta",
                                        server_ns="ttb")
        eq((cl["syn_opts"]["ecn"], cl["synack_opts"]["ecn"]), (True, False),
           "ECN offered, not accepted")
        check_agreed(cl, sv, ws=True, ts=True, sack=True, ecn=False)


@test
def refused_handshake_is_reported_on_both_ends():
    t = Tracer("--handshakes")
    port = new_port()
    s = socket.socket()
    check(s.connect_ex(("127.0.0.1", port)) != 0, "refused")
    s.close()
    recs = t.stop()
    cl, sv = handshakes(recs, port)
    eq([r["outcome"] for r in cl], ["reset"], "client: answered by RST")
    eq([r["outcome"] for r in sv], ["reset"], "server end: RST, no socket")
    eq(sv[0]["sock"], 0, "no server socket")
    eq((cl[0]["synack_opts"], cl[0]["agreed"]), (None, None), "no SYN-ACK")


MALFORMED = {
    # name: (tcp data offset in words, option bytes, expected reason)
    "len0": (6, b"\x02\x00\x05\xb4", "opt-len"),
    "len1": (6, b"\x01\x08\x01\x01", "opt-len"),
    "past_end": (6, b"\x02\x08\x05\xb4", "opt-len"),
    "trunc_kind": (6, b"\x01\x01\x01\x02", "opt-trunc"),
    "mss_len3": (6, b"\x02\x03\x05\x01", "mss-len"),
    "sack_odd": (7, b"\x05\x07\x00\x00\x00\x01\x00\x00", "sack-len"),
    "ts_short": (7, b"\x08\x06\x00\x00\x00\x01\x00\x00", "ts-len"),
    "wscale_15": (6, b"\x03\x03\x0f\x00", "wscale"),
    "doff_short": (4, b"", "doff-short"),
    "doff_past": (15, b"\x01\x01\x01\x01", "doff-past"),
}


@test
def malformed_syn_options_are_flagged():
    from scapy.config import conf
    from scapy.layers.inet import IP, TCP
    from scapy.packet import Raw
    from scapy.sendrecv import send
    conf.verb = 0
    load("hs_timeout=1")
    fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
    before = stats(fd)["malformed"]
    os.close(fd)
    ls = socket.socket()
    port = new_port()
    ls.bind(("127.0.0.1", port))
    ls.listen()
    t = Tracer("--handshakes")
    sports = {}
    for i, (name, (doff, opts, why)) in enumerate(sorted(MALFORMED.items())):
        sport = 40000 + i
        sports[sport] = (name, why)
        seg = TCP(sport=sport, dport=port, flags="S", seq=1000 + i,
                  dataofs=doff) / Raw(load=opts)
        send(IP(src="127.0.0.1", dst="127.0.0.1") / seg)
    # every crafted SYN ends as a server-side record: reset or timeout
    deadline = time.time() + TIMEOUT
    while True:
        got = {r["dport"]: r for r in t.lines() if r["type"] == "handshake"
               and r["role"] == "server" and r["sport"] == port}
        if all(sp in got for sp in sports) or time.time() > deadline:
            break
        time.sleep(0.5)
    t.stop()
    ls.close()
    for sp, (name, why) in sorted(sports.items()):
        check(sp in got, "no record for malformed SYN %s" % name)
        o = got[sp]["syn_opts"]
        eq(o["malformed"], True, name + " flagged")
        check(why in o["malformed_why"], "%s: %r lacks %s" % (
            name, o["malformed_why"], why))
    fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
    after = stats(fd)["malformed"]
    os.close(fd)
    check(after - before >= len(MALFORMED),
          "malformed counter moved by %d" % (after - before))
    load()


SYN_TO_VOID = r"""
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
syn = bytes([0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2,
             0xff, 0xff, 0, 0, 0, 0])
for i in range(int(sys.argv[1])):
    fd = os.open("/run/netns/ttn%d" % i, os.O_RDONLY)
    if libc.setns(fd, 0x40000000):
        sys.exit("setns: %d" % ctypes.get_errno())
    os.close(fd)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.sendto(syn, ("10.197.0.1", 0))
    s.close()
"""

# A namespace's setup (ip, nft) costs about 0.3 s in a TCG guest, and
# seconds under the debug kernel (SLOWDOWN 5; 40 took 414 s there): 50
# on stock kernels (33 s for 100 on 6.1, 67 s on 5.10), 4 under the debug
# one.
NNS = max(4, int(50 // SLOWDOWN ** 2))


@test
def namespace_churn_leaves_no_table_entries():
    load()
    fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
    try:
        base = stats(fd)["conn_in_use"]
        # NNS namespaces, each with an address of its own whose SYNs an
        # INPUT rule drops
        sh("for i in $(seq 0 %d); do ip netns add ttn$i && "
           "printf 'link add d0 type dummy\\naddr add 10.197.0.1/24 dev d0\\n"
           "link set d0 up\\nlink set lo up\\n' | ip -n ttn$i -b - && "
           "ip netns exec ttn$i nft 'add table ip f; add chain ip f in "
           "{ type filter hook input priority 0; }; add rule ip f in "
           "tcp dport 80 drop' || exit 1; done" % (NNS - 1))
        # one SYN to each (from a raw socket, as a scanner sends it: it makes
        # no client end), dropped by the rule once tcptrace saw it arrive:
        # a server end with no socket behind it
        r = subprocess.run(["python3", "-c", SYN_TO_VOID, str(NNS)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        eq(r.returncode, 0, "raw SYNs: " + r.stderr)
        mid = stats(fd)["conn_in_use"]
        check(mid - base >= NNS, "%d half-open entries: %d" % (NNS, mid - base))
        sh("for i in $(seq 0 %d); do echo netns del ttn$i; done | ip -b -"
           % (NNS - 1))
        deadline = time.time() + TIMEOUT
        while stats(fd)["conn_in_use"] > base and time.time() < deadline:
            time.sleep(0.5)    # namespaces are torn down asynchronously
        end = stats(fd)["conn_in_use"]
        diag("conn_in_use: before %d, with %d namespaces %d, after %d" % (
            base, NNS, mid, end))
        eq(end, base, "entries of destroyed namespaces purged")
    finally:
        os.close(fd)
        sh("ip -all netns del", False)


if __name__ == "__main__":
    rc = run(sys.argv[1:], after_each=kill_tracers)
    unload()
    sys.exit(rc)
