#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Edge cases the connection table once got wrong, run as root inside a
guest by selftests/run.sh: an orphaned FIN_WAIT2 taken for TIME_WAIT, a
VRF-bound socket's TIME_WAIT never found, a SYN dropped inside TCP with
no reason, the a listener's new socket parked
behind another one's transition.  Each asserts the records of every
namespace involved.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import test, run, check, eq, diag, Skip  # noqa: E402
from lib import (load, unload, new_port, sh, Tracer, Net,  # noqa: E402
                 kill_tracers, cookie, diags, one, ns_py, KVER,
                 drop_reason, LISTENER)


def states(recs, **kw):
    return [r for r in recs if r["type"] == "state" and
            all(r.get(k) == v for k, v in kw.items())]


SERVER = r"""
import socket, sys
ls = socket.socket(); ls.bind(("0.0.0.0", %d)); ls.listen()
print("ready", flush=True)
a, _ = ls.accept()
print("accepted", flush=True)
sys.stdin.readline()          # close when told to
a.close()
print("closed", flush=True)
sys.stdin.readline()
"""


CLIENT = r"""
import socket, time
c = socket.create_connection(("%s", %d))
print(c.getsockname()[1], flush=True)
time.sleep(0.2)
c.close()
"""


def orphan(n, port, server_closes):
    """The client closes first and goes away: its socket is orphaned, and
    once the server ACKs the FIN the kernel keeps its FIN_WAIT2 in a
    timewait socket (tw_substate FIN_WAIT2) until the server's FIN."""
    srv = n.bg("tts", SERVER % port)
    cport = int(ns_py("ttc", CLIENT % (n.server, port)).stdout.strip())
    eq(srv.stdout.readline().strip(), "accepted", "server accepted")
    time.sleep(0.6)
    if server_closes:
        srv.stdin.write("\n")
        srv.stdin.flush()
        eq(srv.stdout.readline().strip(), "closed", "server closed")
    return cport


@test
def orphaned_fin_wait2_is_not_time_wait():
    load()
    with Net() as n:
        sh("ip netns exec ttc sysctl -qw net.ipv4.tcp_fin_timeout=2")
        t = Tracer()
        # the server closes 0.6 s later: FIN_WAIT2, then TIME_WAIT
        p1 = new_port()
        c1 = orphan(n, p1, True)
        # the server never closes: FIN_WAIT2 ends after tcp_fin_timeout
        p2 = new_port()
        c2 = orphan(n, p2, False)
        t.wait_for(lambda r: r.get("sport") == c2 and r.get("new") ==
                   "CLOSE", "the orphaned FIN_WAIT2's end")
        recs = t.stop()
        ino = n.ino("ttc")
        for cport, port, want in (
                (c1, p1, [("FIN_WAIT1", "FIN_WAIT2"),
                          ("FIN_WAIT2", "TIME_WAIT")]),
                (c2, p2, [("FIN_WAIT1", "FIN_WAIT2"),
                          ("FIN_WAIT2", "CLOSE")])):
            seq = [(r["old"], r["new"]) for r in
                   states(recs, sport=cport, dport=port, netns=ino)]
            diag("client %d: %r" % (cport, seq))
            eq(seq[-2:], want, "client %d's last transitions" % cport)
        d = one(recs, "time_wait", "FIN came", sport=c1, netns=ino)
        eq(d["state"], "FIN_WAIT2", "TIME_WAIT entered from FIN_WAIT2")
        check(d["duration_ns"] > 50 * 10**9, "a full TIME_WAIT: %r" % d)
        last = states(recs, sport=c2, netns=ino)[-1]
        eq((last["synthetic"], last["orphan_fin_wait2"]), (True, True),
           "ended as an orphaned FIN_WAIT2")
        eq(diags(recs, "time_wait", sport=c2), [],
           "no TIME_WAIT without the peer's FIN")
        eq(diags(recs, "time_wait_end", sport=c2), [], "so none ended")


VRF_SERVER = r"""
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"blue")
ls.bind(("0.0.0.0", %d)); ls.listen()
print("ready", flush=True)
a, _ = ls.accept()
a.recv(10)
a.close()                     # the server closes first: TIME_WAIT here
print("closed", flush=True)
sys.stdin.readline()
"""


@test
def vrf_bound_socket_time_wait():
    if sh("modprobe vrf", False).returncode:
        raise Skip("no vrf module")
    load()
    with Net() as n:
        sh("ip -n tts link add blue type vrf table 10")
        sh("ip -n tts link set blue up")
        sh("ip -n tts link set s0 master blue")
        port = new_port()
        srv = n.bg("tts", VRF_SERVER % port)
        t = Tracer()
        ns_py("ttc", "import socket, time\n"
              "c = socket.create_connection(('%s', %d))\n"
              "c.sendall(b'x')\ntime.sleep(0.5)\nc.close()"
              % (n.server, port))
        eq(srv.stdout.readline().strip(), "closed", "server closed")
        # the scan runs every 250 ms: time for it to look twice
        time.sleep(1.5)
        recs = t.stop()
        ino = n.ino("tts")
        d = one(recs, "time_wait", "server", sport=port, netns=ino)
        check(d["duration_ns"] > 50 * 10**9, "a full TIME_WAIT: %r" % d)
        eq(diags(recs, "time_wait_end", sport=port, netns=ino), [],
           "the VRF-bound timewait socket is still there")
        srv.stdin.write("\n")
        srv.stdin.flush()


@test
def time_wait_of_a_connection_older_than_the_module():
    """A connection made before tcptrace was loaded, traced by a reader
    that wants no state records: nothing generated its socket cookie
    before the kernel copied it (still 0) into the timewait socket.  Its
    TIME_WAIT goes on; it was not "reused"."""
    unload()
    port = new_port()
    ls = socket.socket()
    ls.bind(("127.0.0.1", port))
    ls.listen()
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = ls.accept()
    load()
    t = Tracer("--diag")
    c.close()               # the client closes first: its TIME_WAIT
    a.close()
    ls.close()
    time.sleep(1.5)         # the scan looks six times
    recs = t.stop()
    d = one(recs, "time_wait", "client", dport=port)
    check(d["duration_ns"] > 50 * 10**9, "a full TIME_WAIT: %r" % d)
    eq(diags(recs, "time_wait_end", dport=port), [],
       "its TIME_WAIT goes on (nothing took the tuple over)")


@test
def syn_dropped_inside_tcp_names_its_reason():
    load("syn_timeout_ms=300")
    with Net() as n:
        port = new_port()
        n.bg("tts", LISTENER % port)
        t = Tracer("--diag")
        # SYN+FIN to a listener: TCP itself drops it, after LOCAL_IN,
        # where the packet no longer has a device
        n.send_to_server([
            "IP(dst='%s')/TCP(sport=47001, dport=%d, flags='SF')"
            % (n.server, port)])
        t.wait_for(lambda r: r.get("diag") == "syn_unanswered" and
                   r.get("sport") == port, "the SYN's diagnosis")
        recs = t.stop()
        d = one(recs, "syn_unanswered", "server", sport=port, dport=47001)
        drop_reason(d, "TCP_FLAGS" if KVER >= (6, 4) else None,
                    "a SYN with FIN dropped inside TCP")


@test
def listener_clone_is_resolved_not_guessed():
    """Many connections at once to one listener: every server socket's
    LISTEN -> SYN_RECV names that socket, never the listener's cookie,
    and none is left unresolved."""
    load()
    t = Tracer()
    port = new_port()
    ls = socket.socket()
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    cs = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    acc = [ls.accept()[0] for _ in cs]
    ids = {cookie(a) for a in acc}
    lid = cookie(ls)
    for s in cs + acc:
        s.close()
    ls.close()
    recs = t.stop()
    syn_recv = states(recs, old="LISTEN", new="SYN_RECV", sport=port)
    eq(len(syn_recv), 20, "one LISTEN -> SYN_RECV per connection")
    eq([r for r in syn_recv if r["unresolved"]], [], "none unresolved")
    eq({r["sock"] for r in syn_recv}, ids, "each names its own socket")
    check(lid not in ids, "never the listener's cookie")


TFO_SERVER = r"""
import socket, struct
ls = socket.socket()
ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
ls.bind(("0.0.0.0", %d)); ls.listen()
other = socket.socket(); other.bind(("0.0.0.0", %d)); other.listen(16)
print("ready", flush=True)
for _ in range(3):
    a, _ = ls.accept()
    a.recv(10)
    print(struct.unpack("<Q", a.getsockopt(socket.SOL_SOCKET, 57, 8))[0],
          flush=True)
    a.close()
input()                 # the listeners stay until the test ends
"""

# The client's ACK of each SYN-ACK is held back (dropped, until the server
# sends its SYN-ACK again), and meanwhile another connection's SYN makes
# the server's kernel clone another socket, on the same CPU.
TFO_CLIENT = r"""
import socket, subprocess, time
def nft(*a):
    subprocess.run(("nft",) + a, check=True)
nft("add", "table", "inet", "hold")
nft("add", "chain", "inet", "hold", "out",
    "{ type filter hook output priority 0; }")
for i in range(3):      # the first asks for a cookie, the others use it
    if i:
        nft("add", "rule", "inet", "hold", "out", "tcp", "dport", "%d",
            "tcp", "flags", "==", "ack", "drop")
    c = socket.socket()
    try:
        c.sendto(b"hello", socket.MSG_FASTOPEN | socket.MSG_DONTWAIT,
                 ("%s", %d))
    except BlockingIOError:
        pass
    time.sleep(0.2)
    o = socket.create_connection(("%s", %d))
    time.sleep(0.2)
    nft("flush", "chain", "inet", "hold", "out")
    time.sleep(1.5)
    c.close()
    o.close()
"""


@test
def fast_open_server_socket_is_resolved():
    """TCP Fast Open: the server's socket is made (LISTEN -> SYN_RECV) by
    the SYN, and its next transition waits for the client's ACK, after the
    client's own on the same CPU.  It is still named, not left as the
    listener's copy."""
    load()
    with Net() as n:
        for ns in ("ttc", "tts"):
            sh("ip netns exec %s sysctl -qw net.ipv4.tcp_fastopen=3" % ns)
        port, other = new_port(), new_port()
        srv = n.bg("tts", TFO_SERVER % (port, other))
        t = Tracer()
        ns_py("ttc", TFO_CLIENT % (port, n.server, port, n.server, other))
        ids = {int(srv.stdout.readline()) for _ in range(3)}
        recs = t.stop()
    syn_recv = states(recs, old="LISTEN", new="SYN_RECV", sport=port)
    eq(len(syn_recv), 3, "one LISTEN -> SYN_RECV per connection")
    eq([r for r in syn_recv if r["unresolved"]], [], "none unresolved")
    eq({r["sock"] for r in syn_recv}, ids, "each names its own socket")
    hs = [r for r in recs if r["type"] == "handshake" and
          r["role"] == "server" and r["sport"] == port]
    # each server socket's handshake is reported, also those closed by
    # the application before the client's ACK (SYN_RECV -> FIN_WAIT1)
    eq([r["outcome"] for r in hs], ["established"] * 3,
       "three server handshakes")
    eq(sum(1 for r in hs if r["syn_opts"].get("tfo") is not None), 3,
       "three SYNs carried the Fast Open option")


if __name__ == "__main__":
    rc = run(sys.argv[1:], after_each=kill_tracers)
    unload()
    sys.exit(rc)
