#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Drop reasons explained (issue: explain, don't just name): each cause is
made for real in namespaces, and the diagnosis must name the kernel's
reason and say what to check.  Where the kernel gives no drop reasons
(5.10), the diagnosis must say so instead (lib.drop_reason)."""
import os
import re
import sys

from ktap import test, run, check, eq, diag, Skip
from lib import (load, unload, Net, Tracer, new_port, ns_py, sh, one,
                 diags, drop_reason, KVER, mac_of, nft, LISTENER)

# A LISTENER whose socket filter (classic BPF "ret #0") drops everything.
FILTERED_LISTENER = r"""
import socket, struct, sys
SO_ATTACH_FILTER = 26
ls = socket.socket()
ls.bind(('0.0.0.0', %d)); ls.listen()
prog = struct.pack("HBBI", 0x06, 0, 0, 0)          # BPF_RET | BPF_K, 0
buf = __import__("ctypes").create_string_buffer(prog)
fprog = struct.pack("HL", 1, __import__("ctypes").addressof(buf))
ls.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
print('ready', flush=True)
sys.stdin.read()
"""


def connect(n, port):
    ns_py("ttc", "import socket\ns = socket.socket()\ns.settimeout(2)\n"
          "try: s.connect(('%s', %d))\nexcept OSError: pass"
          % (n.server, port), check_rc=False)


def syn_diag(n, port, what, send=connect, **kw):
    """@send a SYN from ttc to the server's @port, which never answers:
    the server's syn_unanswered diagnosis (with the fields @kw)."""
    t = Tracer("--diag")
    try:
        send(n, port)
        t.wait_for(lambda r: r.get("diag") == "syn_unanswered" and
                   r.get("sport") == port and
                   all(r.get(k) == v for k, v in kw.items()),
                   "the SYN's diagnosis")
    finally:
        recs = t.stop()
    return one(recs, "syn_unanswered", what, sport=port, **kw), recs


def facts_shown(d, facts, what):
    """The diagnosis @d shows the sysctl values @facts (name: value), read
    in the server's namespace, in JSON and in its text."""
    got = d["sysctls"] or {}
    for k, v in facts.items():
        eq(got.get(k), v, "%s: %s now, in the server's netns" % (what, k))
        check("%s=%s" % (k, v) in d["explain"], "%s: the text says %s=%s: "
              "%s" % (what, k, v, d["explain"]))


def moved(d, counter):
    """The diagnosis @d shows the nstat @counter of the server's netns,
    and it counted this packet."""
    v = (d["sysctls"] or {}).get(counter)
    check(v is not None and int(v) >= 1, "%s there: %r" % (counter,
                                                           d["sysctls"]))


def reason_shown(n, port, what, name, words, send=connect, facts=None):
    """The diagnosis of a SYN @send makes names the kernel's reason @name
    (lib.drop_reason: or says the kernel gives none), says what it means
    and what to check, and the check mentions every one of @words; it
    shows the sysctl values @facts (on 5.10 too: there the usual
    suspects' values stand in for the missing reason)."""
    d, _ = syn_diag(n, port, what, send)
    drop_reason(d, name, what)
    facts_shown(d, facts or {}, what)
    if d["reason"] != name:
        return d
    check(d["meaning"] and d["check"], "%s explained: %r" % (name, d))
    for w in words:
        check(w in d["check"], "%s: check mentions %r: %s" % (
            name, w, d["check"]))
    check(d["meaning"] in d["explain"] and d["check"] in d["explain"],
          "the text line carries both: %s" % d["explain"])
    return d


@test
def reverse_path_filter():
    """Asymmetric routing: the SYN comes in on s0, the route back to the
    client leaves by another interface, strict rp_filter drops it."""
    load("syn_timeout_ms=300")
    with Net() as n:
        port = new_port()
        n.bg("tts", LISTENER % port)
        # strict rp_filter refuses the client's ARP requests too: the
        # client knows the server's address already
        mac = mac_of("tts", "s0")
        sh("ip -n ttc neigh replace %s lladdr %s dev c0 nud permanent"
           % (n.server, mac))
        sh("ip -n tts link add d0 type dummy && ip -n tts link set d0 up")
        sh("ip -n tts route add 10.210.1.2/32 dev d0")
        for c in ("all", "s0"):
            sh("ip netns exec tts sysctl -qw net.ipv4.conf.%s.rp_filter=1"
               % c)
        d = reason_shown(n, port, "strict rp_filter, asymmetric route",
                         "IP_RPFILTER", ["rp_filter", "ip route get"],
                         facts={"net.ipv4.conf.all.rp_filter": "1",
                                "net.ipv4.conf.s0.rp_filter": "1"})
        # where the route back leaves: not s0, where the SYN came in
        eq((d["in_dev"], d["route_back"]), ("s0", "dev d0"),
           "in on s0, back by d0, in the server's netns")
        check("SYN came in on s0" in d["explain"] and
              "route back to 10.210.1.2: dev d0" in d["explain"],
              d["explain"])
        eq(d["in_ifindex"], int(sh("ip netns exec tts cat "
                                   "/sys/class/net/s0/ifindex").stdout),
           "the index of s0 in the server's netns")
        moved(d, "TcpExtIPReversePathFilter")


def bad_checksum_syn(n, port):
    n.send_to_server([
        "IP(dst='%s')/TCP(sport=47002, dport=%d, flags='S', chksum=0x1234)"
        % (n.server, port)])


@test
def bad_tcp_checksum():
    """A SYN whose TCP checksum is wrong (a broken NIC or middlebox):
    TCP drops it."""
    load("syn_timeout_ms=300")
    with Net() as n:
        port = new_port()
        n.bg("tts", LISTENER % port)
        d = reason_shown(n, port, "a SYN with a bad TCP checksum",
                         "TCP_CSUM", ["checksum", "ethtool"],
                         send=bad_checksum_syn)
        if d["reason"] == "TCP_CSUM":
            moved(d, "TcpInCsumErrors")


@test
def socket_filter_on_the_listener():
    """The application attached a socket filter to its listener that
    rejects the SYN."""
    load("syn_timeout_ms=300")
    with Net() as n:
        port = new_port()
        n.bg("tts", FILTERED_LISTENER % port)
        reason_shown(n, port, "a SYN a socket filter rejects",
                     "SOCKET_FILTER", ["filter"])


@test
def ipsec_policy_blocks():
    """An XFRM (IPsec) policy blocks TCP from the client."""
    load("syn_timeout_ms=300")
    with Net() as n:
        r = sh("ip -n tts xfrm policy add src 10.210.1.2/32 dst %s/32 "
               "proto tcp dir in action block" % n.server, False)
        if r.returncode:
            raise Skip("no XFRM in this kernel: %s" % r.stderr.strip())
        port = new_port()
        n.bg("tts", LISTENER % port)
        reason_shown(n, port, "a SYN an IPsec policy blocks",
                     "XFRM_POLICY", ["ip xfrm policy"])


def kernel_drop_reasons():
    """The drop reason names the running kernel has (5.17+), from the
    kfree_skb tracepoint's format; empty without tracefs."""
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        try:
            with open(d + "/events/skb/kfree_skb/format") as f:
                return set(re.findall(r'"([A-Z][A-Z0-9_]+)"', f.read()))
        except OSError:
            continue
    return set()


def martian_syn(n, port):
    n.send_to_server([
        "IP(src='0.0.0.0', dst='%s')/TCP(sport=47020, dport=%d, flags='S')"
        % (n.server, port)])


@test
def martian_source():
    """A SYN from 0.0.0.0 (a martian source, as a broken NAT or a spoofer
    makes): the kernel names it IP_INVALID_SOURCE where it has that
    reason (7.x); older kernels drop it without a specific reason, and
    the diagnosis says that much."""
    load("syn_timeout_ms=300")
    names = kernel_drop_reasons()
    if not names and KVER >= (5, 17):
        raise Skip("no tracefs to learn the kernel's drop reasons")
    want = "IP_INVALID_SOURCE" if "IP_INVALID_SOURCE" in names else \
        "NOT_SPECIFIED"
    with Net() as n:
        port = new_port()
        n.bg("tts", LISTENER % port)
        if want == "IP_INVALID_SOURCE" or KVER < (5, 17):
            reason_shown(n, port, "a SYN from a martian source", want,
                         ["log_martians"], send=martian_syn)
            return
        d, _ = syn_diag(n, port, "a martian SYN, no reason", martian_syn)
        eq((d["cause"], d["reason"]), ("drop_reason", "NOT_SPECIFIED"),
           "dropped, the kernel saying no more")
        check("no specific reason" in d["explain"], d["explain"])


def syns_past_the_queue(n, port):
    """Three SYNs, 0.3 s apart: the handshakes of the first two stay
    half-open (the client, scapy, drops the RSTs its kernel would answer
    their SYN-ACKs with) and fill a backlog-1 listener's SYN queue (full
    when longer than the backlog); the third finds it full."""
    sh("ip netns exec ttc nft add table ip f")
    sh("ip netns exec ttc nft add chain ip f o '{ type filter hook output "
       "priority 0; }'")
    sh("ip netns exec ttc nft add rule ip f o tcp flags rst drop")
    n.send_to_server([
        "IP(dst='%s')/TCP(sport=%d, dport=%d, flags='S')"
        % (n.server, sport, port) for sport in (47010, 47011, 47012)],
        gap=0.3)


@test
def syn_queue_full_without_syncookies():
    """SYN cookies off and a listener with backlog 1 whose SYN queue
    holds handshakes that never finish: TCP drops the next SYN, with no
    drop reason; the diagnosis says why and what to change."""
    load("syn_timeout_ms=300")
    with Net() as n:
        sh("ip netns exec tts sysctl -qw net.ipv4.tcp_syncookies=0")
        port = new_port()
        n.bg("tts", LISTENER.replace("ls.listen()", "ls.listen(1)") % port)
        d, recs = syn_diag(n, port, "SYN queue full", syns_past_the_queue,
                           dport=47012)
        eq(d["cause"], "syn_queue_full", "cause")
        check("tcp_syncookies" in d["explain"] and
              "tcp_max_syn_backlog" in d["explain"], d["explain"])
        backlog = sh("ip netns exec tts sysctl -n "
                     "net.ipv4.tcp_max_syn_backlog").stdout.strip()
        facts_shown(d, {"net.ipv4.tcp_syncookies": "0",
                        "net.ipv4.tcp_max_syn_backlog": backlog},
                    "SYN queue full")
        moved(d, "TcpExtTCPReqQFullDrop")
        # two half-open handshakes hold its SYN queue, none is accepted
        eq(d["listener"], {"accept_queue": 0, "backlog": 1},
           "the listener's queue and backlog")
        check("listener: 0 in its accept queue, listen() backlog 1"
              in d["explain"], d["explain"])
        eq([x for x in diags(recs, "syn_unanswered", sport=port)
            if x["dport"] != 47012], [], "the first two were answered")


@test
def no_route_back():
    """The client's address is one the server has no route to (a return
    route lost in a renumbering, a missing default route): the SYN
    arrives, TCP finds no route for its SYN-ACK and sends none, and the
    kernel gives no drop reason for that.  The diagnosis shows that no
    route leads back, as ip route get would in the server's netns."""
    load("syn_timeout_ms=300")
    with Net() as n:
        port = new_port()
        n.bg("tts", LISTENER % port)
        sh("ip -n ttc addr add 10.211.0.2/32 dev c0")
        sh("ip -n ttc neigh replace %s lladdr %s dev c0 nud permanent"
           % (n.server, mac_of("tts", "s0")))

        def from_elsewhere(n, port):
            ns_py("ttc", "import socket\ns = socket.socket()\n"
                  "s.bind(('10.211.0.2', 0)); s.settimeout(2)\n"
                  "try: s.connect(('%s', %d))\nexcept OSError: pass"
                  % (n.server, port), check_rc=False)
        d, _ = syn_diag(n, port, "no route back", from_elsewhere)
        check(d["cause"] in ("unanswered", "drop_reason"), d)
        eq((d["in_dev"], d["route_back"]),
           ("s0", "none (Network is unreachable)"),
           "in on s0, no route back, in the server's netns")
        check("route back to 10.211.0.2: none (Network is unreachable)"
              in d["explain"], d["explain"])
        if d["cause"] == "unanswered":
            check("no route leads back to the client" in d["explain"] and
                  "ip route get 10.211.0.2 from %s" % n.server
                  in d["explain"], "explained: %s" % d["explain"])


# Connections the client holds open (established, so conntrack marks them
# ASSURED: a full table cannot make room by dropping them early).
HOLDER = """
import socket, sys
cs = [socket.create_connection(('%s', %d)) for _ in range(%d)]
print('ready', flush=True)
sys.stdin.read()
"""
CT_MAX = "/proc/sys/net/netfilter/nf_conntrack_max"


def listener_behind_ct_invalid_drop(n):
    """A listener in tts behind the common "ct state invalid drop" rule (a
    rule that uses conntrack turns it on in that netns): its port."""
    port = new_port()
    n.bg("tts", LISTENER % port)
    nft("tts", "table ip f {\n chain in {\n"
        "  type filter hook input priority 0;\n"
        "  ct state invalid drop\n }\n}")
    return port


CT_STAT = "/proc/net/stat/nf_conntrack"
CT_INVALID = CT_STAT + " invalid"


def ct_stat():
    """conntrack's per-CPU counters are there: a kernel with
    NF_CONNTRACK_PROCFS (Debian's; not the debug kernel's config), once
    conntrack is loaded."""
    return os.path.exists(CT_STAT)


@test
def conntrack_table_full():
    """The server's conntrack table is full (nf_conntrack_max, global, is
    lowered to the entries its namespace holds; they are established, so
    none can be dropped early): conntrack drops the next SYN before TCP
    sees it.  The diagnosis names the netfilter drop, and shows the
    table's count against its limit, read in the server's namespace."""
    load("syn_timeout_ms=300")
    with Net() as n:
        port = listener_behind_ct_invalid_drop(n)
        n.bg("ttc", HOLDER % (n.server, port, 3))
        count = sh("ip netns exec tts cat /proc/sys/net/netfilter/"
                   "nf_conntrack_count").stdout.strip()
        check(int(count) >= 3, "conntrack holds the 3 connections: %s"
              % count)
        with open(CT_MAX) as f:
            old = f.read().strip()
        try:
            with open(CT_MAX, "w") as f:
                f.write(count)
            facts = {"net.netfilter.nf_conntrack_count": count,
                     "net.netfilter.nf_conntrack_max": count}
            if ct_stat():
                # full, not invalid: the other rule case
                facts[CT_INVALID] = "0"
            d = reason_shown(n, port, "a SYN conntrack has no room for",
                             "NETFILTER_DROP", ["nf_conntrack_max"],
                             facts=facts)
            if not ct_stat():
                eq((d["sysctls"] or {}).get(CT_INVALID), None,
                   "no invalid count where the kernel has none")
        finally:
            with open(CT_MAX, "w") as f:
                f.write(old)


@test
def conntrack_invalid_dropped_by_a_rule():
    """A SYN that conntrack finds invalid (SYN with FIN: no valid TCP flag
    combination), dropped by the common "ct state invalid drop" rule: the
    diagnosis names the netfilter drop, and shows conntrack's count of
    invalid packets in the server's namespace, which this SYN raised."""
    load("syn_timeout_ms=300")
    with Net() as n:
        port = listener_behind_ct_invalid_drop(n)

        def syn_fin(n, port):
            n.send_to_server(["IP(dst='%s')/TCP(sport=47030, dport=%d, "
                              "flags='SF')" % (n.server, port)])
        d = reason_shown(n, port, "a SYN+FIN conntrack finds invalid",
                         "NETFILTER_DROP", ["nft list ruleset"], syn_fin)
        inv = (d["sysctls"] or {}).get(CT_INVALID)
        if not ct_stat():
            eq(inv, None, "no invalid count where the kernel has none")
            diag("no %s on this kernel (NF_CONNTRACK_PROCFS off)" % CT_STAT)
            return
        check(inv is not None and int(inv) >= 1,
              "conntrack's invalid count there: %r" % d["sysctls"])


# A receiver that accepts, shrinks its receive buffer under the window it
# has already offered (TCP never takes an offered window back) and stops
# reading: the in-window data that follows finds no room.  The sender
# sends MSS-sized segments (no TSO/GSO on its link), as fast as it can,
# once told to.
SHRINKING_RECEIVER = r"""
import socket, sys
ls = socket.socket()
ls.bind(('0.0.0.0', %d)); ls.listen()
print('ready', flush=True)
c, _ = ls.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
print('shrunk', flush=True)
sys.stdin.read()
"""
SENDER = r"""
import socket, sys
s = socket.create_connection(('%s', %d))
print('ready', flush=True)
sys.stdin.readline()
s.settimeout(3)
sent = 0
try:
    while sent < 4 << 20:
        sent += s.send(b'x' * 65536)
except OSError:
    pass
print('sent', sent, flush=True)
sys.stdin.read()
"""


def no_names_said():
    """Where the kernel names no drop reasons (before 6.0), data and
    forwarding drops are not reported, and the module says so."""
    log = sh("dmesg | grep 'names no drop reasons' | tail -n1").stdout
    check("not reported" in log, "the module says so at load: %r" % log)


def sent_and_traced(n, port, kind, end, ready=lambda: None):
    """SENDER in ttc sends to @port of the server (once @ready returns)
    while the CLI traces: its records, once a @kind diagnosis with @port
    at its @end came; None where the kernel names no drop reasons, and
    none came (the module said so)."""
    t = Tracer("--diag")
    try:
        tx = n.bg("ttc", SENDER % (n.server, port))
        ready()
        tx.stdin.write("go\n")
        tx.stdin.flush()
        if KVER < (6, 0):
            diag("sender: %s" % tx.stdout.readline().strip())
            no_names_said()
            eq(diags(t.stop(), kind), [], "nothing claimed")
            return None
        t.wait_for(lambda r: r.get("diag") == kind and r.get(end) == port,
                   "the drops' diagnosis")
    except BaseException:
        if t.p.poll() is None:
            t.stop()
        raise
    return t.stop()


def drops_shown(d, name, words, facts):
    """Diagnosis @d of dropped packets names the kernel's reason @name,
    explains it, and the check mentions @words; it shows the values of
    @facts (names, read in its namespace)."""
    eq((d["cause"], d["reason"]), ("drop_reason", name), "the reason")
    check(d["count"] >= 1, "counted: %r" % d)
    check(d["meaning"] and d["check"] and d["meaning"] in d["explain"] and
          d["check"] in d["explain"], "explained: %s" % d["explain"])
    for w in words:
        check(w in d["check"], "check mentions %r: %s" % (w, d["check"]))
    for f in facts:
        check(f in (d["sysctls"] or {}), "%s shown: %r" % (f, d["sysctls"]))


@test
def receive_buffer_full():
    """An established connection whose receiver has no room left for the
    data its window still lets in: TCP drops the segments.  One diagnosis
    of the episode on the receiver's end: how many, the kernel's reason
    and what to check, the interface they came in on, and the counter
    that moved."""
    load()
    with Net() as n:
        port = new_port()
        rx = n.bg("tts", SHRINKING_RECEIVER % port)
        sh("ip netns exec ttc ethtool -K c0 tso off gso off")
        recs = sent_and_traced(n, port, "data_dropped", "sport",
                               lambda: eq(rx.stdout.readline().strip(),
                                          "shrunk", "receiver"))
        if recs is None:
            return
        d = one(recs, "data_dropped", "a full receive buffer", sport=port,
                saddr=n.server, daddr="10.210.1.2")
        drops_shown(d, "PROTO_MEM", ["Recv-Q", "tcp_rmem"],
                    ["net.ipv4.tcp_rmem", "TcpExtTCPRcvQDrop"])
        check(int(d["sysctls"]["TcpExtTCPRcvQDrop"]) >= 1,
              "TCPRcvQDrop moved: %r" % d["sysctls"])
        eq(d["in_dev"], "s0", "came in on s0")
        check(d["sock"], "the receiver's socket: %r" % d)
        check("segment" in d["explain"] and "came in on s0" in d["explain"],
              d["explain"])


@test
def path_mtu_black_hole():
    """A router whose route onward has a smaller MTU (a tunnel) drops the
    client's full-size packets, Don't Fragment set, and tells the client;
    a firewall on the client's side drops that ICMP, so the client keeps
    sending them (a path MTU black hole).  The router's namespace gets one
    diagnosis: the flow, the MTU, the interfaces, and the advice."""
    load()
    with Net(router=True) as n:
        port = new_port()
        n.bg("tts", LISTENER % port)
        sh("ip -n ttr route add %s/32 dev r1 mtu 1280" % n.server)
        nft("ttc", "table ip f {\n chain in {\n"
            "  type filter hook input priority 0;\n"
            "  icmp type destination-unreachable drop\n }\n}")
        recs = sent_and_traced(n, port, "fwd_dropped", "dport")
        if recs is None:
            return
        d = one(recs, "fwd_dropped", "a path MTU black hole", dport=port,
                saddr="10.210.1.2", daddr=n.server)
        eq(d["netns"], Net.ino("ttr"), "the router's namespace")
        drops_shown(d, "PKT_TOO_BIG", ["MTU", "MSS"], ["IpFragFails"])
        eq((d["mtu"], d["in_dev"], d["out_dev"]), (1280, "r0", "r1"),
           "MTU and interfaces")
        check("MTU 1280" in d["explain"] and "black hole" in d["explain"],
              d["explain"])
        eq(d["sock"], 0, "no socket of the router's")


if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv[1:]))
    finally:
        unload()
