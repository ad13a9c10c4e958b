#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Container-host topology tests, run as root inside a guest by
selftests/run.sh: a host namespace routing, NATting or bridging between a
client and "containers", as Docker and Kubernetes build them.  Each test
asserts the exact handshakes and diagnoses of every namespace: the ends of
a connection get theirs, a namespace that only forwards or translates its
packets gets none.  The module is loaded with hs_timeout=4 and
syn_timeout_ms=500, and every test waits SETTLE seconds after its last
SYN, so a false handshake timeout or unanswered SYN would be reported.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import test, run, check, eq, diag, Skip  # noqa: E402
from lib import (load, unload, new_port, sh, Tracer, TIMEOUT,  # noqa: E402
                 kill_tracers, ns_py, nft, Netns, Net)

PARAMS = "hs_timeout=4 syn_timeout_ms=500"
SETTLE = 5.0            # > hs_timeout + a scan (1/4 s)

ECHO = r"""
import socket, threading
def echo(a):
    while True:
        d = a.recv(65536)
        if not d:
            break
        a.sendall(d)
    a.close()                   # after the client's FIN: it closes first
def serve(ls):
    while True:
        threading.Thread(target=echo, args=(ls.accept()[0],)).start()
for fam, host, port in %r:
    ls = socket.socket(fam)
    if fam == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    ls.bind((host, port)); ls.listen(16)
    threading.Thread(target=serve, args=(ls,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

CLIENT = r"""
import socket
for i in range(%d):
    c = socket.create_connection((%r, %d), timeout=10)
    c.sendall(b"ping"); assert c.recv(10) == b"ping"
    c.close()
"""

REFUSED = r"""
import errno, socket
c = socket.socket()
assert c.connect_ex((%r, %d)) == errno.ECONNREFUSED
"""


def echo(n, ns, *ends, fam=socket.AF_INET):
    return n.bg(ns, ECHO % [(int(fam), h, p) for h, p in ends])


def connect(ns, host, port, n=1):
    ns_py(ns, CLIENT % (n, host, port))


def refused(ns, host, port):
    ns_py(ns, REFUSED % (host, port))


def settle(since):
    time.sleep(max(0.0, since + SETTLE - time.monotonic()))


def eph(p):
    """An ephemeral port (ip_local_port_range) as "*": service ports here
    are below it."""
    return "*" if p >= 32768 else p


def ends(r):
    return (r["saddr"], eph(r["sport"]), r["daddr"], eph(r["dport"]))


def in_ns(recs, ino, typ=None):
    return [r for r in recs if r.get("netns") == ino and
            (typ is None or r["type"] == typ)]


def hs(recs, ino):
    """Handshakes of namespace @ino: (role, outcome, local, peer), sorted."""
    return sorted((r["role"], r["outcome"]) + ends(r)
                  for r in in_ns(recs, ino, "handshake"))


def dg(recs, ino):
    """Diagnoses of namespace @ino: (kind, cause, local, peer), sorted."""
    return sorted((r["diag"], r["cause"]) + ends(r)
                  for r in in_ns(recs, ino, "diag"))


def brief(r):
    what = {"state": lambda: "%s->%s" % (r["old"], r["new"]),
            "handshake": lambda: "%s %s" % (r["role"], r["outcome"]),
            "diag": lambda: "%s cause %s: %s" % (r["diag"], r["cause"],
                                                 r["explain"])}.get(
        r["type"], lambda: "")()
    return "%s %s:%s > %s:%s %s" % (r["type"], r.get("saddr"), r.get("sport"),
                                    r.get("daddr"), r.get("dport"), what)


def nothing(recs, ino, what):
    eq([brief(r) for r in in_ns(recs, ino)], [], what + ": no records")


class Verdicts:
    """Every check of a test reported: a failing one hides no other."""

    def __init__(self):
        self.fails = []

    def __call__(self, fn, *args):
        try:
            fn(*args)
        except AssertionError as e:
            self.fails.append(str(e))
            diag("FAIL: %s" % e)

    def done(self):
        check(not self.fails, "%d check(s) failed: %s" % (
            len(self.fails), "; ".join(f[:100] for f in self.fails)))


# Diagnoses of a failed handshake or connection, or of a TIME_WAIT
ALARMS = ("syn_unanswered", "no_synack", "rst_out", "rst_in", "time_wait",
          "time_wait_end")


def no_false_alarms(recs):
    """Anywhere: no handshake timed out, no SYN unanswered, nothing lost."""
    eq([brief(r) for r in recs if r.get("outcome") == "timeout" or
        r.get("diag") == "syn_unanswered" or r["type"] == "lost"], [],
       "no handshake timeout, unanswered SYN or lost record anywhere")


class Topo(Netns):
    """Namespaces first, then the module, then (in the test) the tracer: a
    namespace inode the tracer reports is one of this test's, or of one
    that was alive when they were made."""

    def __enter__(self):
        super().__enter__()
        try:
            load(PARAMS)
        except BaseException:
            self.__exit__()
            raise
        return self


def host(n):
    """C (10.99.0.2) - H - K (10.88.0.2): H routes, C and K default via
    H (10.99.0.1 on C's link, 10.88.0.1 on K's)."""
    n.link("ttc", "c0", "10.99.0.2", "tth", "hc", "10.99.0.1")
    n.link("ttk", "k0", "10.88.0.2", "tth", "hk", "10.88.0.1")
    sh("ip -n ttc route add default via 10.99.0.1")
    sh("ip -n ttk route add default via 10.88.0.1")
    sh("ip netns exec tth sysctl -qw net.ipv4.ip_forward=1")
    return n.ino("ttc"), n.ino("tth"), n.ino("ttk")


# H's Docker-like NAT: a published port, and masquerade out C's link
DOCKER_NAT = """table ip nat {
 chain pre {
  type nat hook prerouting priority dstnat;
  ip daddr 10.99.0.1 tcp dport %d dnat to 10.88.0.2:%d
 }
 chain post {
  type nat hook postrouting priority srcnat;
  ip saddr 10.88.0.0/24 oifname "hc" masquerade
 }
}"""


def through_host(t, h, why, n, ends):
    """Stop @t once the table would have reported a false alarm; the
    forwarding namespace @h has no records, and each namespace of @ends
    ({ino: (role, local, peer, closed first, what)}) just @n handshakes
    of that role with those ends, and a TIME_WAIT each if it closed
    first."""
    settle(time.monotonic())
    recs = t.stop()
    v = Verdicts()
    v(nothing, recs, h, "H (%s)" % why)
    for ino, (role, local, peer, first, what) in ends.items():
        v(eq, hs(recs, ino), [(role, "established") + local + peer] * n,
          what)
        v(eq, dg(recs, ino), [("time_wait", "none") + local + peer] * n
          if first else [], what + ": closed first" if first else
          what + ": no diagnosis")
    v(no_false_alarms, recs)
    v.done()


@test
def published_port_dnat():
    with Topo("ttc", "tth", "ttk") as n:
        c, h, k = host(n)
        nft("tth", DOCKER_NAT % (8080, 80))
        t = Tracer()
        echo(n, "ttk", ("0.0.0.0", 80))
        connect("ttc", "10.99.0.1", 8080, 3)
        through_host(t, h, "DNAT 10.99.0.1:8080 -> 10.88.0.2:80", 3, {
            k: ("server", ("10.88.0.2", 80), ("10.99.0.2", "*"), False,
                "K: the server end of each, on its own port 80"),
            c: ("client", ("10.99.0.2", "*"), ("10.99.0.1", 8080), True,
                "C: the client end of each, to the published port")})


@test
def ipvs_virtual_service():
    """kube-proxy's IPVS mode, LVS: the host's own address is a virtual
    service that IPVS takes at LOCAL_IN (after tcptrace's hook) and sends
    on, NATed, to a real server."""
    if sh("modprobe ip_vs", False).returncode:
        raise Skip("no ip_vs module")
    with Topo("ttc", "tth", "ttk") as n:
        c, h, k = host(n)
        sh("ip netns exec tth ipvsadm -A -t 10.99.0.1:80 -s rr && "
           "ip netns exec tth ipvsadm -a -t 10.99.0.1:80 -r 10.88.0.2:80 -m")
        t = Tracer()
        echo(n, "ttk", ("0.0.0.0", 80))
        connect("ttc", "10.99.0.1", 80, 3)
        through_host(t, h, "IPVS 10.99.0.1:80 -> 10.88.0.2:80", 3, {
            k: ("server", ("10.88.0.2", 80), ("10.99.0.2", "*"), False,
                "K: the real server's end of each"),
            c: ("client", ("10.99.0.2", "*"), ("10.99.0.1", 80), True,
                "C: the client end of each, to the virtual service")})


@test
def redirect_to_sidecar():
    with Topo("ttc", "tth", "ttk") as n:
        c, h, k = host(n)
        # the sidecar's capture rule, as Istio's: port 80 to its :15001
        nft("ttk", "table ip nat {\n chain pre {\n"
            "  type nat hook prerouting priority dstnat;\n"
            "  tcp dport 80 redirect to :15001\n }\n}")
        t = Tracer()
        echo(n, "ttk", ("0.0.0.0", 15001))
        connect("ttc", "10.88.0.2", 80, 2)
        through_host(t, h, "forwards only", 2, {
            k: ("server", ("10.88.0.2", 15001), ("10.99.0.2", "*"), False,
                "K: the proxy's socket, on its own port 15001 (none on 80)"),
            c: ("client", ("10.99.0.2", "*"), ("10.88.0.2", 80), True,
                "C: client to port 80")})


@test
def masquerade_outbound():
    with Topo("ttc", "tth", "ttk") as n:
        c, h, k = host(n)
        port = new_port()
        nft("tth", DOCKER_NAT % (8080, 80))
        t = Tracer()
        echo(n, "ttc", ("10.99.0.2", port))
        connect("ttk", "10.99.0.2", port, 2)
        through_host(t, h, "masquerade 10.88.0.2 -> 10.99.0.1", 2, {
            k: ("client", ("10.88.0.2", "*"), ("10.99.0.2", port), True,
                "K: client, from its own address"),
            c: ("server", ("10.99.0.2", port), ("10.99.0.1", "*"), False,
                "C: server, the peer is the masqueraded address")})


@test
def forwarded_rst_and_fin():
    with Topo("ttc", "tth", "ttk") as n:
        c, h, k = host(n)
        port, closed, closed2 = new_port(), new_port(), new_port()
        nft("tth", DOCKER_NAT % (8081, closed2))
        t = Tracer()
        echo(n, "ttk", ("0.0.0.0", port))
        connect("ttc", "10.88.0.2", port)       # routed, FIN
        refused("ttc", "10.88.0.2", closed)     # routed, RST
        refused("ttc", "10.99.0.1", 8081)       # DNATted, RST
        settle(time.monotonic())
        recs = t.stop()
        v = Verdicts()
        v(nothing, recs, h, "H (forwards K's RSTs, makes none)")
        v(eq, hs(recs, k), sorted([
               ("server", "established", "10.88.0.2", port, "10.99.0.2", "*"),
               ("server", "reset", "10.88.0.2", closed, "10.99.0.2", "*"),
               ("server", "reset", "10.88.0.2", closed2, "10.99.0.2", "*")]),
              "K: server ends")
        v(eq, dg(recs, k), sorted([
               ("rst_out", "no_socket", "10.88.0.2", closed, "10.99.0.2", "*"),
               ("rst_out", "no_socket", "10.88.0.2", closed2, "10.99.0.2",
                "*")]), "K: RSTs out from its closed ports")
        v(eq, hs(recs, c), sorted([
               ("client", "established", "10.99.0.2", "*", "10.88.0.2", port),
               ("client", "reset", "10.99.0.2", "*", "10.88.0.2", closed),
               ("client", "reset", "10.99.0.2", "*", "10.99.0.1", 8081)]),
              "C: client ends")
        v(eq, dg(recs, c), sorted([
               ("rst_in", "none", "10.99.0.2", "*", "10.88.0.2", closed),
               ("rst_in", "none", "10.99.0.2", "*", "10.99.0.1", 8081),
               ("time_wait", "none", "10.99.0.2", "*", "10.88.0.2", port)]),
              "C: refused twice, closed first once")
        v(no_false_alarms, recs)
        v.done()


def bridge_round(k1, k2, port, closed):
    connect("ttk1", "10.77.0.3", port)
    refused("ttk1", "10.77.0.3", closed)
    return (
        ("K1", k1, [("client", "established", "10.77.0.2", "*", "10.77.0.3",
                     port),
                    ("client", "reset", "10.77.0.2", "*", "10.77.0.3",
                     closed)],
         [("rst_in", "none", "10.77.0.2", "*", "10.77.0.3", closed),
          ("time_wait", "none", "10.77.0.2", "*", "10.77.0.3", port)]),
        ("K2", k2, [("server", "established", "10.77.0.3", port, "10.77.0.2",
                     "*"),
                    ("server", "reset", "10.77.0.3", closed, "10.77.0.2",
                     "*")],
         [("rst_out", "no_socket", "10.77.0.3", closed, "10.77.0.2", "*")]))


def check_round(v, recs, h, what, ports, want):
    sel = [r for r in recs if ports & {r.get("sport"), r.get("dport")}]
    v(nothing, sel, h, "H, %s" % what)
    for name, ino, hands, diags in want:
        v(eq, hs(sel, ino), sorted(hands), "%s, %s: handshakes" % (name, what))
        v(eq, dg(sel, ino), sorted(diags), "%s, %s: diagnoses" % (name, what))


@test
def bridge_br_netfilter_off_and_on():
    had = os.path.exists("/sys/module/br_netfilter")
    loaded = False
    try:
        with Topo("ttk1", "ttk2", "tth") as n:
            sh("ip -n tth link add br0 type bridge && "
               "ip -n tth addr add 10.77.0.1/24 dev br0 && "
               "ip -n tth link set br0 up")
            for ns, a, v in (("ttk1", "10.77.0.2", "v1"),
                             ("ttk2", "10.77.0.3", "v2")):
                n.link(ns, "k0", a, "tth", v, None)
                sh("ip -n tth link set %s master br0" % v)
            k1, k2, h = n.ino("ttk1"), n.ino("ttk2"), n.ino("tth")
            p1, c1, p2, c2 = (new_port() for _ in range(4))
            if had:     # this round is the plain bridge
                sh("ip netns exec tth sysctl -qw "
                   "net.bridge.bridge-nf-call-iptables=0")
            t = Tracer()
            echo(n, "ttk2", ("0.0.0.0", p1), ("0.0.0.0", p2))
            off = bridge_round(k1, k2, p1, c1)
            last = time.monotonic()
            if had:
                why = None
            else:
                r = sh("modprobe br_netfilter", False)
                why = r.returncode and "modprobe br_netfilter: " + r.stderr
                loaded = not why
            if not why:
                r = sh("ip netns exec tth sysctl -qw "
                       "net.bridge.bridge-nf-call-iptables=1", False)
                why = r.returncode and "bridge-nf-call-iptables: " + r.stderr
            on = None
            if not why:
                on = bridge_round(k1, k2, p2, c2)
                last = time.monotonic()
            settle(last)
            recs = t.stop()
            v = Verdicts()
            check_round(v, recs, h, "plain bridge", {p1, c1}, off)
            v(no_false_alarms, recs)
            if why:
                v.done()
                raise Skip("br_netfilter half: " + why)
            check_round(v, recs, h, "br_netfilter, bridge-nf-call-iptables=1",
                        {p2, c2}, on)
            v(nothing, recs, h, "H, at all")
            v.done()
    finally:
        if loaded:
            sh("rmmod br_netfilter", False)


SPOOF = r"""
import json, random, socket, threading, time
from scapy.config import conf
from scapy.layers.l2 import Ether
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.sendrecv import AsyncSniffer, sendp
conf.verb = 0
PORT = %d
pkts, ev = [], threading.Event()
sn = AsyncSniffer(iface="c0", store=False, prn=pkts.append,
                  started_callback=ev.set, lfilter=lambda p: TCP in p and
                  PORT in (p[TCP].sport, p[TCP].dport))
sn.start()
assert ev.wait(30), "sniffer"

def wait(pred, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = [p for p in list(pkts) if pred(p)]
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("no such packet")

out, conns = [], []
for fam, L3, src, dst in ((socket.AF_INET, IP, "10.210.1.2", "10.210.1.1"),
                          (socket.AF_INET6, IPv6, "fd00:210::2",
                           "fd00:210::1")):
    c = socket.socket(fam)
    c.connect((dst, PORT))
    c.sendall(b"a"); assert c.recv(1) == b"a"
    lport = c.getsockname()[1]
    syn = wait(lambda p: p[TCP].sport == lport and p[TCP].flags == "S")[0]
    dup = syn.copy()
    del dup[TCP].chksum         # the capture has the offloaded one
    spoof = (Ether(src=syn.src, dst=syn.dst) / L3(src=src, dst=dst) /
             TCP(sport=lport, dport=PORT, flags="S",
                 seq=random.getrandbits(32), window=64240,
                 options=[("MSS", 1460)]))
    since = time.time()
    sendp(dup, iface="c0")      # a duplicate of the connection's SYN
    time.sleep(0.1)
    sendp(spoof, iface="c0")    # a SYN on its 4-tuple, other sequence
    last = time.monotonic()
    conns.append((c, lport))
    out.append(dict(fam=int(fam), lport=lport, isn=syn[TCP].seq, since=since))
time.sleep(2)
for o in out:
    o["answers"] = ["%%s ack %%d" %% (p[TCP].flags, p[TCP].ack) for p in pkts
                    if p[TCP].dport == o["lport"] and p.time >= o["since"]]
for c, lport in conns:
    c.sendall(b"b"); assert c.recv(1) == b"b", "still connected"
    c.close()
print(json.dumps(dict(last=last, conns=out)))
"""


@test
def duplicate_and_spoofed_syn_on_established():
    with Topo("ttc", "tts") as n:
        n.link("ttc", "c0", "10.210.1.2", "tts", "s0", "10.210.1.1")
        sh("ip -n ttc addr add fd00:210::2/64 dev c0 nodad && "
           "ip -n tts addr add fd00:210::1/64 dev s0 nodad")
        c, s = n.ino("ttc"), n.ino("tts")
        port = new_port()
        t = Tracer()
        echo(n, "tts", ("10.210.1.1", port))
        echo(n, "tts", ("fd00:210::1", port), fam=socket.AF_INET6)
        r = json.loads(ns_py("ttc", SPOOF % port).stdout)
        settle(r["last"])
        recs = t.stop()
        v = Verdicts()
        v(no_false_alarms, recs)
        for o in r["conns"]:
            lport, v6 = o["lport"], o["fam"] == socket.AF_INET6
            what = "IPv%d :%d" % (6 if v6 else 4, lport)
            sa, ca = ("fd00:210::1", "fd00:210::2") if v6 else \
                ("10.210.1.1", "10.210.1.2")
            diag("%s: ISN %d, the server's answers to the duplicate and the"
                 " spoofed SYN: %s" % (what, o["isn"], o["answers"]))
            v(check, not any(a.startswith("SA") for a in o["answers"]),
                     "%s: no SYN-ACK for a SYN on an established tuple" % what)
            mine = [r for r in recs if (r.get("sport"), r.get("dport")) in
                    ((port, lport), (lport, port))]
            v(eq, hs(mine, s), [("server", "established", sa, port, ca, "*")],
                  "%s: S: one server handshake" % what)
            v(eq, hs(mine, c), [("client", "established", ca, "*", sa, port)],
                  "%s: C: one client handshake" % what)
            v(eq, [d for d in dg(mine, s) if d[0] in ALARMS], [],
              "%s: S: no diagnosis of a failure" % what)
            # the duplicate carries the connection's first, older,
            # timestamp: PAWS; the spoofed SYN none: a challenge ACK
            v(eq, sorted(d[1] for d in dg(mine, s)
                         if d[0] == "syn_on_connection"),
              ["challenge_ack", "paws"],
              "%s: S: each SYN on the connection named" % what)
            v(eq, dg(mine, c), [("time_wait", "none", ca, "*", sa, port)],
                  "%s: C: closed first" % what)
            v(eq, [(r["old"], r["new"]) for r in in_ns(mine, s, "state")],
                  [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
                   ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                   ("LAST_ACK", "CLOSE")], "%s: S: the server's states" % what)
        v.done()


PAWS_SERVER = r"""
import socket
ls = socket.socket(); ls.bind(("10.210.1.1", %d)); ls.listen(16)
print("ready", flush=True)
while True:
    a, _ = ls.accept()
    if a.recv(100):     # the control connection sends nothing
        a.sendall(b"bye"); a.close()            # the server closes first
"""

PAWS = r"""
import json, random, socket, subprocess, sys, threading, time
from scapy.config import conf
from scapy.layers.l2 import Ether
from scapy.layers.inet import IP, TCP
from scapy.sendrecv import AsyncSniffer, sendp
conf.verb = 0
SRV, CLI, PORT, ROUNDS, NSYN = "10.210.1.1", "10.210.1.2", %d, %r, %d
pkts, ev = [], threading.Event()
sn = AsyncSniffer(iface="c0", store=False, prn=pkts.append,
                  started_callback=ev.set, lfilter=lambda p: TCP in p and
                  PORT in (p[TCP].sport, p[TCP].dport))
sn.start()
assert ev.wait(30), "sniffer"

def wait(pred, timeout=5, n=1):
    end = time.monotonic() + timeout
    while True:
        got = [p for p in list(pkts) if pred(p)]
        if len(got) >= n or time.monotonic() > end:
            return got
        time.sleep(0.02)

def in_s(*cmd):
    return subprocess.run(("ip", "netns", "exec", "tts") + cmd, check=True,
                          capture_output=True, text=True).stdout

def tw(cport):
    return any("%%s:%%d" %% (CLI, cport) in l.split()
               for l in in_s("ss", "-Htan", "state", "time-wait").splitlines())

def paws_estab():
    # a timewait socket's PAWS rejects: PAWSEstab until 6.x, their own
    # PAWSTimewait counter since
    h, v = [l.split() for l in in_s("cat", "/proc/net/netstat").splitlines()
            if l.startswith("TcpExt:")]
    return sum(int(v[h.index(k)]) for k in ("PAWSEstab", "PAWSTimewait")
               if k in h)

def tsopt(p):
    return dict(p[TCP].options).get("Timestamp")

def syn(o, tsval):
    return (Ether(src=o["mac"][0], dst=o["mac"][1]) / IP(src=CLI, dst=SRV) /
            TCP(sport=o["cport"], dport=PORT, flags="S", window=64240,
                seq=random.getrandbits(32),
                options=[("MSS", 1460), ("SAckOK", b""),
                         ("Timestamp", (tsval, 0)), ("NOP", None),
                         ("WScale", 7)]))

def answers(o, since, n):
    got = wait(lambda p: p[TCP].sport == PORT and p[TCP].dport == o["cport"]
               and p.time >= since, 1, n)
    return ["%%s ack %%d ts %%s" %% (p[TCP].flags, p[TCP].ack, tsopt(p))
            for p in got]

out = []
for cport, tsmode in ROUNDS:
    subprocess.run(["sysctl", "-qw", "net.ipv4.tcp_timestamps=%%d" %% tsmode],
                   check=True)
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind((CLI, cport)); c.connect((SRV, PORT))
    c.sendall(b"hello")
    while c.recv(100):
        pass
    c.close()
    # the client's FIN is the last segment S took a timestamp from
    fin = wait(lambda p: p[TCP].sport == cport and "F" in p[TCP].flags)
    assert fin, "client FIN seen"
    end = time.monotonic() + 5
    while not tw(cport):
        assert time.monotonic() < end, "S never got to TIME_WAIT"
        time.sleep(0.05)
    mine = [p for p in list(pkts) if p[TCP].sport == cport]
    o = dict(cport=cport, tsmode=tsmode, mac=(fin[0].src, fin[0].dst),
             sent_ts=[tsopt(p)[0] for p in mine])
    o["last"] = o["sent_ts"][-1]
    # older than the last TSval S saw, in serial arithmetic: with random
    # offsets (tcp_timestamps=1) a fixed value such as 1 may be newer
    o["old"] = (o["last"] - 1000) %% 2**32
    before = paws_estab()
    since = time.time()
    # a SYN and its retransmission, 50 ms apart
    sendp([syn(o, o["old"])] * NSYN, iface="c0", inter=0.05)
    o["paws_answers"] = answers(o, since, NSYN)
    o["paws_estab"] = paws_estab() - before
    o["tw_after_paws"] = tw(cport)
    out.append(o)
print(json.dumps(out), flush=True)
sys.stdin.readline()
# control: a newer timestamp.  The first round's handshake is completed
# (C's RSTs still dropped), the last one's SYN-ACK is answered with an RST
# by C's kernel.
for i, o in enumerate(out):
    o["completed"] = i < len(out) - 1
    if not o["completed"]:
        subprocess.run(["nft", "delete", "table", "inet", "q"], check=True)
    o["new"] = (o["last"] + 1000000) %% 2**32
    since = time.time()
    o["control_mono"] = time.monotonic()
    f = syn(o, o["new"])
    sendp(f, iface="c0")
    sa = wait(lambda p: p[TCP].sport == PORT and p[TCP].dport == o["cport"]
              and p.time >= since, 1)
    o["control_answers"] = ["%%s ack %%d ts %%s" %% (p[TCP].flags, p[TCP].ack,
                                                  tsopt(p)) for p in sa]
    if o["completed"] and sa:
        sendp(Ether(src=f.src, dst=f.dst) / IP(src=CLI, dst=SRV) /
              TCP(sport=o["cport"], dport=PORT, flags="A",
                  seq=f[TCP].seq + 1, ack=sa[0][TCP].seq + 1, window=502,
                  options=[("NOP", None), ("NOP", None),
                           ("Timestamp", (o["new"] + 1, tsopt(sa[0])[0]))]),
              iface="c0")
    o["tw_after_control"] = tw(o["cport"])
print(json.dumps(out), flush=True)
"""


def wait_quietly(t, pred, secs):
    """Wait up to @secs for a record; the assertions judge its absence."""
    end = time.monotonic() + secs
    while time.monotonic() < end and not any(pred(r) for r in t.lines()):
        time.sleep(0.1)


@test
def paws_time_wait_seed000():
    """Field note 000: SYNs reach the server, no SYN-ACK comes back.  Here
    the tuple is in TIME_WAIT on the server and the SYNs carry a timestamp
    older than the last one it saw from that connection: PAWS rejects
    them, the server answers with a bare ACK (at most one per 500 ms,
    tcp_invalid_ratelimit).  A SYN with a newer timestamp is the control:
    it takes the tuple over and gets its SYN-ACK."""
    nsyn = 2
    with Net() as n:
        s, c = n.ino("tts"), n.ino("ttc")
        port = new_port()
        rounds = [(new_port(), 1), (new_port(), 2)]
        load(PARAMS)
        # C's kernel would answer S's ACKs with RSTs, ending the TIME_WAIT
        nft("ttc", "table inet q {\n chain out {\n"
            "  type filter hook output priority 0;\n"
            "  ip daddr 10.210.1.1 tcp dport %d tcp flags & rst == rst drop\n"
            " }\n}" % port)
        t = Tracer()
        n.bg("tts", PAWS_SERVER % port)
        p = subprocess.Popen(["ip", "netns", "exec", "ttc", "python3", "-u",
                              "-c", PAWS % (port, rounds, nsyn)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        n.procs.append(p)
        line = p.stdout.readline()
        if not line:
            raise AssertionError("scapy client: rc %s" % p.wait(TIMEOUT))
        wait_quietly(t, lambda r: r.get("diag") == "syn_unanswered" and
                     r["dport"] == rounds[-1][0], 3)
        p.stdin.write("go\n")
        p.stdin.flush()
        line = p.stdout.readline()
        eq(p.wait(TIMEOUT), 0, "scapy client exit")
        ctl = json.loads(line)
        for cport, _ in rounds:
            wait_quietly(t, lambda r: r.get("diag") == "time_wait_end" and
                         r["dport"] == cport, 3)
        settle(max(o["control_mono"] for o in ctl))
        recs = t.stop()
        v = Verdicts()
        for o in ctl:
            cport = o["cport"]
            what = "tcp_timestamps=%d, :%d" % (o["tsmode"], cport)
            diag("%s: client TSvals %s; PAWS SYNs TSval %d -> %s "
                 "(PAWSEstab +%d, TIME_WAIT after: %s); control TSval %d -> "
                 "%s (TIME_WAIT after: %s)" % (
                     what, o["sent_ts"], o["old"], o["paws_answers"],
                     o["paws_estab"], o["tw_after_paws"], o["new"],
                     o["control_answers"], o["tw_after_control"]))
            # the kernel's side, before tcptrace's
            v(check, o["paws_answers"] and all(a.startswith("A ") for a in
                                               o["paws_answers"]),
              "%s: PAWS-rejected SYNs answered by bare ACKs: %r" % (
                  what, o["paws_answers"]))
            v(check, o["paws_estab"] >= 1 and o["tw_after_paws"],
              "%s: PAWS counted, TIME_WAIT kept" % what)
            v(check, [a[:3] for a in o["control_answers"]] == ["SA "] and
              not o["tw_after_control"],
              "%s: control SYN answered by SYN-ACK, TIME_WAIT reused: %r"
              % (what, o["control_answers"]))
            mine = [r for r in in_ns(recs, s) if r.get("dport") == cport]
            diag("%s: S's records:\n  %s" % (what, "\n  ".join(
                brief(r) for r in mine if r["type"] != "state")))
            su = [r for r in mine if r.get("diag") == "syn_unanswered"]
            v(eq, [(r["cause"], r["count"]) for r in su], [("paws", nsyn)],
              "%s: S: one unanswered-SYN diagnosis, PAWS, every SYN" % what)
            x = su[0]["explain"] if su else ""
            v(check, "TIME_WAIT" in x and ("PAWS" in x or "timestamp" in x),
              "%s: explained: %r" % (what, x))
            v(eq, [brief(r) for r in mine if r.get("diag") and
                   r["cause"] == "drop_reason"], [],
              "%s: S: no drop_reason diagnosis" % what)
            est = [r for r in mine if r.get("outcome") == "established"]
            v(eq, len(est), 2 if o["completed"] else 1,
              "%s: S: server handshakes established (the control's: %s)"
              % (what, "completed" if o["completed"] else "reset by C"))
            te = [r for r in mine if r.get("diag") == "time_wait_end"]
            v(eq, [(r["cause"], r["ts_ns"] >= o["control_mono"] * 1e9)
                   for r in te], [("reused", True)],
              "%s: S: TIME_WAIT ended once, reused by the control SYN (not "
              "before)" % what)
        v(eq, [brief(r) for r in in_ns(recs, c) if r.get("outcome") ==
               "timeout" or r.get("diag") == "syn_unanswered"], [],
          "C: no false alarm")
        v.done()


if __name__ == "__main__":
    rc = run(sys.argv[1:], after_each=kill_tracers)
    unload()
    sys.exit(rc)
