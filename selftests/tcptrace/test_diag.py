#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Diagnosis tests, run as root inside a guest by selftests/run.sh: each
builds the failure an ops engineer meets (netns topologies, nftables,
socket options) and asserts the diagnosis tcptrace names and its key
fields.
"""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import test, run, check, eq, diag  # noqa: E402
from lib import (load, unload, new_port, sh, Tracer, TIMEOUT,  # noqa: E402
                 kill_tracers, refused, cookie, ns_py, ns_bg, Net, nft,
                 diags, one, rst_reason, drop_reason, KVER,
                 LISTENER, CLI)


@test
def firewall_drops_syns():
    load()
    with Net() as n:
        port = new_port()
        nft("tts", "table inet fw {\n chain in {\n"
            "  type filter hook input priority 0;\n"
            "  tcp dport %d tcp flags syn drop\n }\n}" % port)
        sh("ip netns exec ttc sysctl -qw net.ipv4.tcp_syn_retries=1")
        srv = ns_bg("tts", LISTENER % port)
        t = Tracer("--diag")
        r = ns_py("ttc", "import socket\ns = socket.socket()\n"
                  "print(s.connect_ex(('%s', %d)))" % (n.server, port))
        eq(r.stdout.strip(), str(os_errno("ETIMEDOUT")), "client timed out")
        recs = t.stop()
        srv.kill()
        d = one(recs, "syn_unanswered", "server", sport=port)
        drop_reason(d, "NETFILTER_DROP", "server: dropped by the firewall")
        if KVER >= (5, 17):
            check("firewall" in d["explain"], d["explain"])
        d = one(recs, "no_synack", "client", dport=port)
        check(d["count"] >= 2, "client: SYN retransmitted: %r" % d)
        check("no SYN-ACK after %d tries" % d["count"] in d["explain"],
              d["explain"])


def os_errno(name):
    import errno
    return getattr(errno, name)


@test
def full_accept_queue():
    with Net() as n:
        port = new_port()
        # a value of its own there: read in the server's netns, not the
        # reader's
        sh("ip netns exec tts sysctl -qw net.core.somaxconn=77")
        srv = ns_bg("tts", LISTENER.replace("listen()", "listen(0)") % port)
        t = Tracer("--diag")
        # non-blocking connects: the first fills the queue, later SYNs
        # are dropped by the listener
        cl = subprocess.Popen(
            ["ip", "netns", "exec", "ttc", "python3", "-c",
             "import socket, time\nss = []\nfor i in range(4):\n"
             "    s = socket.socket(); s.setblocking(False)\n"
             "    s.connect_ex(('%s', %d)); ss.append(s); time.sleep(0.2)\n"
             "time.sleep(5)" % (n.server, port)])
        t.wait_for(lambda r: r.get("diag") == "syn_unanswered",
                   "unanswered SYN")
        recs = t.stop()
        cl.kill()
        srv.kill()
        d = one(recs, "syn_unanswered", "server", sport=port)
        eq(d["cause"], "listen_overflow", "reason: accept queue overflow")
        check("accept queue is full" in d["explain"], d["explain"])
        facts = d["sysctls"] or {}
        eq(facts.get("net.core.somaxconn"), "77", "somaxconn there")
        # the counter nstat shows moved, in the server's netns
        check(int(facts.get("TcpExtListenOverflows", 0)) >= 1,
              "ListenOverflows there: %r" % facts)
        # the first connection waits in the queue of a listen(0) socket
        eq(d["listener"], {"accept_queue": 1, "backlog": 0},
           "the listener's queue, as ss -lnt shows it")
        check("[now in its netns: SYN came in on s0, listener: 1 in its "
              "accept queue, listen() backlog 0, net.core.somaxconn=77, "
              "TcpExtListenOverflows=" in d["explain"], d["explain"])


@test
def closed_port_refused():
    t = Tracer("--diag")
    port = new_port()
    s = socket.socket()
    check(s.connect_ex(("127.0.0.1", port)) != 0, "refused")
    cid = cookie(s)
    s.close()
    recs = t.stop()
    d = one(recs, "rst_out", "server end", sport=port)
    eq((d["cause"], d["state"], d["sock"]), ("no_socket", None, 0),
       "RST out: closed port, no socket")
    rst_reason(d, ("NO_SOCKET",))
    d = one(recs, "rst_in", "client", dport=port)
    eq((d["state"], d["sock"]), ("SYN_SENT", cid), "client refused in SYN_SENT")
    check("connection refused" in d["explain"], d["explain"])


@test
def top_in_tmux():
    """tcpwhy top in a terminal (tmux): three refused connections and one
    handshake show up in the table it redraws in place."""
    import re
    sess = "tcpwhy-top-%d" % os.getpid()
    closed, open_ = new_port(), new_port()
    sh("tmux new-session -d -s %s -x 120 -y 60 '%s top -i 300ms'"
       % (sess, CLI))
    try:
        deadline = time.time() + TIMEOUT
        while not Tracer._holds_device():
            check(time.time() < deadline, "top opened the device")
            time.sleep(0.05)
        for _ in range(3):
            refused("127.0.0.1", closed)
        ls = socket.socket()
        ls.bind(("127.0.0.1", open_))
        ls.listen()
        c = socket.create_connection(("127.0.0.1", open_))
        a, _ = ls.accept()
        screen, want = "", [
            r"\n  out  no_socket +127\.0\.0\.1 +3\n",
            r"\n  in   \S+ +127\.0\.0\.1 +3\n",
            r"\n  %d +client +1 +[0-9.]+ +[0-9.]+\n" % open_,
            r"\n  %d +server +1 +[0-9.]+ +[0-9.]+\n" % open_,
        ]
        while time.time() < deadline:
            screen = sh("tmux capture-pane -p -t %s" % sess).stdout
            if all(re.search(w, screen) for w in want):
                break
            time.sleep(0.3)
        for w in want:
            check(re.search(w, screen), "%r on the screen:\n%s" % (w, screen))
        check(screen.startswith("tcpwhy top "), "drawn from the top left: "
              + screen[:200])
        eq(screen.count("RESETS"), 1, "redrawn in place, not appended")
        c.close()
        a.close()
        ls.close()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", sess],
                       capture_output=True)
    deadline = time.time() + TIMEOUT
    while Tracer._holds_device():
        check(time.time() < deadline, "top let the device go")
        time.sleep(0.05)


MIDDLEBOX_SERVER = r"""
import socket
ls = socket.socket(); ls.bind(("0.0.0.0", %d)); ls.listen()
print("ready", flush=True)
a, _ = ls.accept()
a.settimeout(10)
try:
    print("server got", a.recv(100), flush=True)
except Exception as e:
    print("server:", e, flush=True)
"""


@test
def middlebox_injected_reset():
    with Net(router=True) as n:
        port = new_port()
        # the router resets the client's first data segment (PSH set)
        nft("ttr", "table inet mb {\n chain forward_mb {\n"
            "  type filter hook forward priority 0;\n"
            "  ip daddr %s tcp dport %d tcp flags & psh == psh"
            " reject with tcp reset\n }\n}" % (n.server, port))
        srv = ns_bg("tts", MIDDLEBOX_SERVER % port)
        t = Tracer()
        r = ns_py("ttc", "import socket, time\n"
                  "c = socket.create_connection(('%s', %d))\n"
                  "c.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
                  "time.sleep(0.5)\n"
                  "try:\n    print(c.recv(10))\n"
                  "except ConnectionResetError:\n    print('reset')\n"
                  % (n.server, port))
        eq(r.stdout.strip(), "reset", "client saw the reset")
        recs = t.stop()
        srv.kill()
        d = one(recs, "rst_in", "client", dport=port)
        eq((d["middlebox"], d["ttl_seen"], d["ttl_expected"]),
           (True, 64, 63), "RST TTL 64 (router) vs 63 (server, 1 hop)")
        check("middlebox" in d["explain"] and "TTL 64 vs 63" in d["explain"],
              d["explain"])
        ino = {ns: os.stat("/run/netns/" + ns).st_ino for ns in ("tts", "ttr")}
        eq(diags(recs, "rst_out", sport=port, netns=ino["tts"]), [],
           "the server never sent it")
        d = one(recs, "rst_out", "router", sport=port, netns=ino["ttr"])
        eq(d["cause"], "firewall_reject", "the router's rule forged it")
        eq([r for r in recs if r["type"] == "handshake" and
            r["netns"] == ino["ttr"]], [],
           "forwarding a handshake does not make the router a party to it")


@test
def linger_abort():
    t = Tracer("--diag")
    port = new_port()
    ls = socket.socket()
    ls.bind(("127.0.0.1", port))
    ls.listen()
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = ls.accept()
    cid = cookie(c)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    time.sleep(0.2)
    a.close()
    ls.close()
    recs = t.stop()
    d = one(recs, "rst_out", "client", dport=port)
    eq((d["cause"], d["sock"]), ("linger_abort", cid), "SO_LINGER abort")
    check("SO_LINGER" in d["explain"], d["explain"])
    # 6.12 aborts through tcp_disconnect(): its reason is the state's
    rst_reason(d, ("TCP_ABORT_ON_LINGER", "TCP_STATE"))
    one(recs, "rst_in", "server", sport=port)


@test
def half_open_after_server_lost_state():
    with Net() as n:
        port = new_port()
        # the server's socket will abort (SO_LINGER 0) when it is killed
        srv = ns_bg("tts", "import socket, struct, sys\nls = socket.socket()\n"
                    "ls.bind(('0.0.0.0', %d)); ls.listen()\n"
                    "print('ready', flush=True)\na, _ = ls.accept()\n"
                    "a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,"
                    " struct.pack('ii', 1, 0))\n"
                    "print('accepted', flush=True)\nsys.stdin.read()" % port)
        cl = subprocess.Popen(
            ["ip", "netns", "exec", "ttc", "python3", "-u", "-c",
             "import socket, sys\nc = socket.create_connection(('%s', %d))\n"
             "print('up', flush=True)\nsys.stdin.readline()\n"
             "c.sendall(b'hello?')\nc.settimeout(10)\n"
             "try:\n    c.recv(10); print('no reset')\n"
             "except ConnectionResetError:\n    print('reset')\n"
             % (n.server, port)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        eq(cl.stdout.readline().strip(), "up", "connected")
        eq(srv.stdout.readline().strip(), "accepted", "accepted")
        # the server loses its state while its RST is suppressed: the
        # client still believes in the connection
        nft("tts", "table inet q {\n chain out {\n"
            "  type filter hook output priority 0;\n"
            "  tcp flags rst drop\n }\n}")
        srv.kill()
        srv.wait()
        time.sleep(0.3)
        sh("ip netns exec tts nft delete table inet q")
        t = Tracer("--diag")
        cl.stdin.write("go\n")
        cl.stdin.flush()
        eq(cl.stdout.readline().strip(), "reset", "client got a reset")
        cl.wait(TIMEOUT)
        recs = t.stop()
        d = one(recs, "rst_out", "server", sport=port)
        eq(d["cause"], "half_open", "server: segment for unknown connection")
        d = one(recs, "rst_in", "client", dport=port)
        eq((d["cause"], d["state"], d["middlebox"]),
           ("half_open", "ESTABLISHED", False),
           "client: the peer lost the connection")
        check("half-open" in d["explain"], d["explain"])


@test
def simultaneous_open_and_close():
    t = Tracer()
    port = new_port()
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.connect(("127.0.0.1", port))     # self-connect: crossed SYNs
    sid = cookie(s)
    s.close()                          # and a FIN meets its own FIN
    recs = t.stop()
    seq = [(r["old"], r["new"]) for r in recs
           if r["type"] == "state" and r["sock"] == sid]
    check(("SYN_SENT", "SYN_RECV") in seq and ("SYN_RECV", "ESTABLISHED")
          in seq, "simultaneous open path: %r" % seq)
    check(("FIN_WAIT1", "CLOSING") in seq, "simultaneous close path: %r" % seq)
    one(recs, "simultaneous_open", "open", sock=sid)
    one(recs, "simultaneous_close", "close", sock=sid)


@test
def time_wait_entry_conflict_and_reuse():
    port, cport = new_port(), new_port()
    sh("sysctl -qw net.ipv4.tcp_tw_reuse=1")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen()
    t = Tracer()
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("127.0.0.1", cport))
    c.connect(("127.0.0.1", port))
    a, _ = ls.accept()
    cid = cookie(c)
    c.close()                   # active close: this end gets TIME_WAIT
    a.recv(1)
    a.close()
    t.wait_for(lambda r: r.get("diag") == "time_wait", "TIME_WAIT entry")
    # the port is busy: bind() fails, and tcptrace says why
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", cport))
        raise AssertionError("bind to a TIME_WAIT port succeeded")
    except OSError as e:
        eq(e.errno, os_errno("EADDRINUSE"), "bind errno")
    b.close()
    tw = subprocess.run([os.environ["TCPTRACE_CLI"], "conns", "--state",
                         "time-wait", "-P", str(cport)],
                        capture_output=True, text=True)
    diag(tw.stdout)
    check("127.0.0.1:%d > 127.0.0.1:%d" % (cport, port) in tw.stdout and
          "left" in tw.stdout, "TIME_WAIT listed with time left")
    # reuse: same tuple again (tcp_tw_reuse, 1 s after the last timestamp)
    time.sleep(1.2)
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("127.0.0.1", cport))
    c.connect(("127.0.0.1", port))
    a, _ = ls.accept()
    c.close()
    a.close()
    ls.close()
    t.wait_for(lambda r: r.get("diag") == "time_wait_end", "TIME_WAIT end")
    recs = t.stop()
    seq = [(r["old"], r["new"], r["synthetic"]) for r in recs
           if r["type"] == "state" and r["sock"] == cid]
    check(("FIN_WAIT2", "TIME_WAIT", True) in seq,
          "synthetic move into TIME_WAIT: %r" % seq)
    check(("TIME_WAIT", "CLOSE", True) in seq, "and out of it: %r" % seq)
    d = one(recs, "time_wait", "entry", sock=cid)
    check(55e9 <= d["duration_ns"] <= 61e9, "TIME_WAIT ~60 s: %r" % d)
    d = one(recs, "time_wait_end", "end", sock=cid)
    eq(d["cause"], "reused", "ended by reuse")
    check(1e9 <= d["duration_ns"] < 30e9, "lasted ~1 s: %r" % d)


@test
def conns_lifecycle_view():
    port = new_port()
    t = Tracer("conns")
    ls = socket.socket()
    ls.bind(("127.0.0.1", port))
    ls.listen()
    for n in (1000, 2000):
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = ls.accept()
        c.sendall(b"x" * n)
        got = 0
        while got < n:
            got += len(a.recv(65536))
        a.sendall(b"y" * 500)
        eq(len(c.recv(1000)), 500, "reply")
        c.close()
        a.recv(1)
        a.close()
    ls.close()
    refused("127.0.0.1", port)
    t.wait_for(lambda r: r.get("dport") == port and r.get("end") == "refused",
               "the refused connection's line")
    recs = [r for r in t.stop(marker=None) if r["type"] == "conn"]
    clients = [r for r in recs if r["dport"] == port and r["role"] == "client"]
    servers = [r for r in recs if r["sport"] == port and r["role"] == "server"]
    eq(len(servers), 2, "two server ends")
    eq([(r["bytes_sent"], r["bytes_received"], r["end"]) for r in servers],
       [(500, 1000, "fin"), (500, 2000, "fin")], "server totals and ends")
    eq([(r["bytes_sent"], r["bytes_received"], r["end"]) for r in clients],
       [(1000, 500, "fin"), (2000, 500, "fin"), (0, 0, "refused")],
       "client totals and ends")
    for r in clients[:2]:
        check(r["agreed"] and r["agreed"]["ts"] and r["agreed"]["sack"],
              "agreed options attached: %r" % r)
        check({"SYN_SENT", "ESTABLISHED", "FIN_WAIT1"} <= set(r["states"]),
              "time per state: %r" % r["states"])
    check("rst_in" in clients[2]["diags"], "refused: diagnosis attached")


if __name__ == "__main__":
    rc = run(sys.argv[1:], after_each=kill_tracers)
    unload()
    sys.exit(rc)
