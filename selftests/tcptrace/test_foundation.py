#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Foundation tests, run as root inside a guest by selftests/run.sh:
every TCP state transition reaches the CLI's JSON output, exactly, on both
ends of real connections; the device's read/poll/ioctl contract; loss is
counted and reported; unload with a blocked reader.

Environment: TCPTRACE_KO (module to load), TCPTRACE_CLI (the CLI).
"""
import errno
import json
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import test, run, check, eq, diag  # noqa: E402
from lib import *  # noqa: E402,F401,F403
import schema  # noqa: E402

def conversation(fam, host, port):
    """Client connects, sends, closes first; server reads EOF and closes.
    Returns the cookies of (listener, client, server child)."""
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(8)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.connect((host, port))
    a, _ = ls.accept()
    c.sendall(b"hello")
    eq(a.recv(16), b"hello", "payload")
    ids = (cookie(ls), cookie(c), cookie(a))
    c.close()
    eq(a.recv(16), b"", "EOF at server")
    a.close()
    ls.close()
    return ids


def transitions(recs, sock):
    return [(r["old"], r["new"]) for r in recs
            if r["type"] == "state" and r["sock"] == sock]


# The tracepoint shows the active closer's FIN_WAIT2 -> CLOSE when the
# kernel hands the connection to a timewait socket; tcptrace reports the
# connection's real move, into TIME_WAIT (its end comes 60 s later).
CLIENT = [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED"),
          ("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
          ("FIN_WAIT2", "TIME_WAIT")]
SERVER = [("LISTEN", "SYN_RECV"), ("SYN_RECV", "ESTABLISHED"),
          ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
          ("LAST_ACK", "CLOSE")]
LISTENER = [("CLOSE", "LISTEN"), ("LISTEN", "CLOSE")]


def settled(t, ids):
    """The conversation's last moves have been reported: the client's
    into TIME_WAIT and the server's LAST_ACK -> CLOSE.  On PREEMPT_RT the
    loopback softirq may run them after close() has returned."""
    _, cid, sid = ids
    t.wait_for(lambda r: r.get("sock") == cid and r.get("new") == "TIME_WAIT",
               "the client's TIME_WAIT")
    t.wait_for(lambda r: r.get("sock") == sid and r.get("new") == "CLOSE",
               "the server's CLOSE")
    return t.stop()


def check_conversation(recs, ids, fam, saddr, port):
    lid, cid, sid = ids
    eq(transitions(recs, lid), LISTENER, "listener transitions")
    eq(transitions(recs, cid), CLIENT, "client transitions")
    eq(transitions(recs, sid), SERVER, "server transitions")
    me = os.getpid()
    ns = netns_ino()
    recs = [r for r in recs if r["type"] == "state"]
    cl = [r for r in recs if r["sock"] == cid]
    sv = [r for r in recs if r["sock"] == sid]
    for r in cl + sv:
        eq(r["family"], fam, "family")
        eq(r["netns"], ns, "netns inode")
    # connect() runs in our task: real pid and comm
    eq((cl[0]["pid"], cl[0]["comm"], cl[0]["ctx"]),
       (me, "python3", "task"), "pid/comm of connect")
    # established client: right endpoints (the SYN_SENT record may still
    # have port 0: the kernel picks the source port after the transition)
    est = cl[1]
    eq((est["saddr"], est["daddr"], est["dport"]), (saddr, saddr, port),
       "client endpoints")
    check(est["sport"] not in (0, port), "client source port %r" % est)
    for r in sv:
        eq((r["saddr"], r["sport"], r["daddr"], r["dport"], r["unresolved"]),
           (saddr, port, saddr, est["sport"], False),
           "server endpoints at %s" % r["new"])
    # records in softirq do not pretend to know the task
    for r in cl + sv:
        if r["ctx"] != "task":
            eq((r["pid"], r["comm"]), (None, None), "softirq pid/comm")
    # time in previous state is known once the socket has been seen
    for seq in (cl, sv):
        check(all(r["in_old_ns"] is not None and r["in_old_ns"] >= 0
                  for r in seq[1:]), "in_old_ns missing: %r" % seq)
        ts = [r["ts_ns"] for r in seq]
        eq(ts, sorted(ts), "timestamps ordered")


@test
def ipv4_loopback_handshake_data_close():
    load()
    t = Tracer()
    port = new_port()
    ids = conversation(socket.AF_INET, "127.0.0.1", port)
    check_conversation(settled(t, ids), ids, 4, "127.0.0.1", port)


@test
def ipv6_loopback_handshake_data_close():
    t = Tracer()
    port = new_port()
    ids = conversation(socket.AF_INET6, "::1", port)
    check_conversation(settled(t, ids), ids, 6, "::1", port)


@test
def ipv4_mapped_on_ipv6_socket():
    t = Tracer()
    port = new_port()
    ids = conversation(socket.AF_INET6, "::ffff:127.0.0.1", port)
    recs = t.stop()
    check_conversation(recs, ids, 6, "::ffff:127.0.0.1", port)
    mine = [r for r in recs if r["sock"] in ids[1:] and r["type"] == "state"]
    check(all(r["v4mapped"] for r in mine if r["new"] == "ESTABLISHED"),
          "v4mapped flag")


@test
def write_raw_then_read_back():
    path = "/tmp/capture-%d.tt" % new_port()
    p = subprocess.Popen([CLI, "-w", path], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + TIMEOUT
    while not Tracer._holds_device():
        check(time.time() < deadline and p.poll() is None, "writer started")
        time.sleep(0.05)
    port = new_port()
    ids = conversation(socket.AF_INET, "127.0.0.1", port)
    time.sleep(0.5)     # a tick or two for the wakeup
    p.send_signal(signal.SIGINT)
    eq(p.wait(TIMEOUT), 0, "writer exit code")
    check("bytes of records written" in p.stderr.read(), "summary")
    with open(path, "rb") as f:
        head = f.read(208)
    magic, abi, hlen, _, boot, host, rel = struct.unpack("<8sIIq40s72s72s",
                                                         head)
    eq((magic, hlen), (b"TCPTRACE", 208), "the header")
    with open("/proc/sys/kernel/random/boot_id") as f:
        eq(boot.rstrip(b"\0").decode(), f.read().strip(), "boot id")
    eq(host.rstrip(b"\0").decode(), os.uname().nodename, "hostname")
    eq(rel.rstrip(b"\0").decode(), os.uname().release, "kernel release")
    r = subprocess.run([CLI, "-r", path, "-j"], capture_output=True,
                       text=True)
    eq(r.returncode, 0, "decode rc: " + r.stderr)
    recs = schema.lines(r.stdout)
    eq(transitions(recs, ids[1]), CLIENT, "client transitions from the file")
    eq(transitions(recs, ids[2]), SERVER, "server transitions from the file")


@test
def write_to_a_pipe_streams():
    """tcpwhy -w - | tcpwhy -r -: lines come out while the writer runs,
    as through ssh host tcpwhy -w - | tcpwhy -r -."""
    w = subprocess.Popen([CLI, "-w", "-"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    r = subprocess.Popen([CLI, "-r", "-", "-j"], stdin=w.stdout,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    w.stdout.close()
    try:
        deadline = time.time() + TIMEOUT
        while not Tracer._holds_device():
            check(time.time() < deadline and w.poll() is None,
                  "writer started")
            time.sleep(0.05)
        port = new_port()
        ids = conversation(socket.AF_INET, "127.0.0.1", port)
        recs, out = [], b""
        deadline = time.time() + TIMEOUT
        while transitions(recs, ids[1]) != CLIENT:
            left = deadline - time.time()
            check(left > 0, "the client's transitions, writer running: %r"
                  % transitions(recs, ids[1]))
            ready, _, _ = select.select([r.stdout], [], [], left)
            if ready:
                chunk = os.read(r.stdout.fileno(), 65536)
                if not chunk:
                    check(False, "reader ended early: %r" % r.stderr.read())
                out += chunk
                *lines, out = out.split(b"\n")
                recs += [schema.valid(json.loads(x)) for x in lines]
        check(w.poll() is None, "the writer still runs")
        w.send_signal(signal.SIGINT)
        eq(w.wait(TIMEOUT), 0, "writer exit code")
        eq(r.wait(TIMEOUT), 0, "reader exit code")
    finally:
        for p in (w, r):
            if p.poll() is None:
                p.kill()
                p.wait()


@test
def connection_refused():
    t = Tracer()
    port = new_port()
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        raise AssertionError("not refused")
    except ConnectionRefusedError:
        pass
    cid = cookie(s)
    s.close()
    recs = t.stop()
    eq(transitions(recs, cid), [("CLOSE", "SYN_SENT"), ("SYN_SENT", "CLOSE")],
       "refused client")


NS_SERVER = r"""
import socket, struct, sys
ls = socket.socket(); ls.bind(("10.199.0.2", %d)); ls.listen(4)
print("ready", flush=True)
a, _ = ls.accept()
print(struct.unpack("<Q", a.getsockopt(socket.SOL_SOCKET, 57, 8))[0], flush=True)
while a.recv(100): pass
a.close(); ls.close()
"""

NS_CLIENT = r"""
import socket, struct
c = socket.create_connection(("10.199.0.2", %d))
print(struct.unpack("<Q", c.getsockopt(socket.SOL_SOCKET, 57, 8))[0], flush=True)
c.sendall(b"x" * 1000); c.close()
"""


@test
def two_namespaces_over_veth():
    sh("ip netns del tta", False)
    sh("ip netns del ttb", False)
    sh("ip netns add tta && ip netns add ttb")
    try:
        sh("ip link add v-a netns tta type veth peer name v-b netns ttb")
        sh("ip -n tta addr add 10.199.0.1/24 dev v-a && ip -n tta link set v-a up"
           " && ip -n tta link set lo up")
        sh("ip -n ttb addr add 10.199.0.2/24 dev v-b && ip -n ttb link set v-b up"
           " && ip -n ttb link set lo up")
        ino_a = netns_ino("/run/netns/tta")
        ino_b = netns_ino("/run/netns/ttb")
        check(ino_a != ino_b, "distinct namespaces")
        t = Tracer()
        port = new_port()
        srv = subprocess.Popen(["ip", "netns", "exec", "ttb", "python3", "-c",
                                NS_SERVER % port], stdout=subprocess.PIPE,
                               text=True)
        eq(srv.stdout.readline().strip(), "ready", "server ready")
        cli = subprocess.run(["ip", "netns", "exec", "tta", "python3", "-c",
                              NS_CLIENT % port], capture_output=True,
                             text=True, timeout=TIMEOUT)
        eq(cli.returncode, 0, "client rc: " + cli.stderr)
        cid = int(cli.stdout.split()[0])
        sid = int(srv.stdout.readline())
        eq(srv.wait(TIMEOUT), 0, "server rc")
        recs = t.stop()
        eq(transitions(recs, cid), CLIENT, "client in tta")
        eq(transitions(recs, sid), SERVER, "server in ttb")
        check(all(r["netns"] == ino_a for r in recs if r["sock"] == cid),
              "client records carry tta's inode %d" % ino_a)
        check(all(r["netns"] == ino_b for r in recs if r["sock"] == sid),
              "server records carry ttb's inode %d" % ino_b)
        ncook = {r["netns_cookie"] for r in recs if r["sock"] in (cid, sid)}
        eq(len(ncook), 2, "two netns cookies")
        est = [r for r in recs if r["sock"] == cid and
               r.get("new") == "ESTABLISHED"][0]
        eq((est["saddr"], est["daddr"], est["dport"]),
           ("10.199.0.1", "10.199.0.2", port), "veth endpoints")
    finally:
        sh("ip netns del tta", False)
        sh("ip netns del ttb", False)


CG_MOUNT = "/sys/fs/cgroup"

# A client that moves itself into a cgroup first, then connects, sends,
# closes first (shutdown: FIN out, then waits for the server's FIN, so its
# socket goes FIN_WAIT2 -> TIME_WAIT while it still holds it), and exits.
CG_CLIENT = r"""
import os, socket, struct, sys
with open(sys.argv[1] + "/cgroup.procs", "w") as f:
    f.write(str(os.getpid()))
c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
print(struct.unpack("<Q", c.getsockopt(socket.SOL_SOCKET, 57, 8))[0], flush=True)
c.sendall(b"hello")
c.shutdown(socket.SHUT_WR)
while c.recv(100):
    pass
c.close()
"""


def own_cgroup():
    """The path of this process's cgroup v2, and its id."""
    with open("/proc/self/cgroup") as f:
        path = [x for x in f.read().splitlines() if x.startswith("0::")][0][3:]
    return path, os.stat(CG_MOUNT + path).st_ino


def cg_conversation(cg_dir, port):
    """A server in our cgroup, a client in @cg_dir's; returns the cookies
    of (client, server's socket)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    cl = subprocess.Popen(["python3", "-c", CG_CLIENT, cg_dir, str(port)],
                          stdout=subprocess.PIPE, text=True)
    a, _ = ls.accept()
    cid = int(cl.stdout.readline())
    data = b""
    while True:
        b = a.recv(100)
        if not b:
            break
        data += b
    eq(data, b"hello", "payload")
    sid = cookie(a)
    a.close()           # after the client's FIN: the client ends in TIME_WAIT
    ls.close()
    eq(cl.wait(TIMEOUT), 0, "client rc")
    return cid, sid


@test
def cgroup_of_the_socket_not_of_current():
    """Every record of a socket carries the cgroup of the socket, also in
    softirq, where current is whatever task was interrupted (on loopback,
    often the other end's process); --cgroup keeps only that cgroup's."""
    cg_dir = CG_MOUNT + "/tt-cg"
    if os.path.isdir(cg_dir):
        os.rmdir(cg_dir)
    os.mkdir(cg_dir)
    try:
        cg_id = os.stat(cg_dir).st_ino
        my_path, my_id = own_cgroup()
        check(my_id != cg_id, "the test runs outside tt-cg")

        t = Tracer()
        cid, sid = cg_conversation(cg_dir, new_port())
        every = t.stop()
        recs = [r for r in every if r["type"] == "state"]
        cl = [r for r in recs if r["sock"] == cid]
        sv = [r for r in recs if r["sock"] == sid]
        eq([(r["old"], r["new"]) for r in cl], CLIENT, "client transitions")
        eq([(r["old"], r["new"]) for r in sv], SERVER, "server transitions")
        # Which end's packets are processed in softirq is timing: one
        # that arrives while its socket's owner holds the lock waits for
        # release_sock(), in that task (seen on 6.1-rt: every client
        # record in task context).  At least one record must be.
        check(any(r["ctx"] == "softirq" for r in cl + sv),
              "records in softirq: client %r, server %r" % (
                  [r["ctx"] for r in cl], [r["ctx"] for r in sv]))
        for r in cl:
            eq((r["cgroup_id"], r["cgroup"]), (cg_id, "/tt-cg"),
               "client %s -> %s (%s)" % (r["old"], r["new"], r["ctx"]))
        for r in sv:
            eq((r["cgroup_id"], r["cgroup"]), (my_id, my_path),
               "server %s -> %s (%s)" % (r["old"], r["new"], r["ctx"]))
        # and the handshake and diagnosis records of each end
        other = [(r["type"], r["sock"], r["cgroup"]) for r in every
                 if r["type"] in ("handshake", "diag") and
                 r["sock"] in (cid, sid)]
        eq(sorted(other), sorted([("handshake", cid, "/tt-cg"),
                                  ("handshake", sid, my_path),
                                  ("diag", cid, "/tt-cg")]),
           "handshakes and the client's TIME_WAIT, by cgroup")

        # only the client's, under every name of its cgroup
        for arg in ("/tt-cg", cg_dir):
            t = Tracer("--cgroup", arg)
            cid, sid = cg_conversation(cg_dir, new_port())
            # the usual end marker is not of that cgroup: wait for the
            # client's last transition instead
            t.wait_for(lambda r: r.get("sock") == cid and
                       (r.get("old"), r.get("new")) == CLIENT[-1],
                       "the client's last transition")
            recs = [r for r in t.stop(marker=None)
                    if r["type"] in ("state", "conn")]
            eq({r["sock"] for r in recs}, {cid}, "--cgroup %s: sockets" % arg)
            eq(len(recs), len(CLIENT), "--cgroup %s: records" % arg)

        # totals records carry it too
        t = Tracer("conns")
        cid, sid = cg_conversation(cg_dir, new_port())
        conns = {r["sock"]: r for r in t.stop() if r["type"] == "conn"}
        eq((conns[cid]["cgroup_id"], conns[cid]["cgroup"]), (cg_id, "/tt-cg"),
           "client's totals")
        eq(conns[sid]["cgroup_id"], my_id, "server's totals")
    finally:
        os.rmdir(cg_dir)


def _two_conns(fam, host, p1, p2):
    return conversation(fam, host, p1), conversation(fam, host, p2)


@test
def filter_port():
    p1, p2 = new_port(), new_port()
    t = Tracer("-P", str(p1))
    a, b = _two_conns(socket.AF_INET, "127.0.0.1", p1, p2)
    recs = t.stop(("127.0.0.1", p1))
    socks = {r["sock"] for r in recs}
    check(a[1] in socks and a[2] in socks, "port %d shown" % p1)
    check(not socks & set(b), "port %d filtered out" % p2)
    check(all(p1 in (r["sport"], r["dport"]) for r in recs), "only port")


TASK_CLIENT = r"""
import ctypes, socket, struct, sys
ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)   # PR_SET_NAME
sys.stdin.readline()
c = socket.socket()
try:
    c.connect(("127.0.0.1", int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(0)
print(struct.unpack("<Q", c.getsockopt(socket.SOL_SOCKET, 57, 8))[0],
      flush=True)
c.sendall(b"x")
c.close()
"""


def _task_clients(port, *names):
    """Clients in other processes, named @names, that connect to @port
    when told (a line on stdin): the PIDs are known before."""
    return [subprocess.Popen([sys.executable, "-c", TASK_CLIENT, str(port), n],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True) for n in names]


def _serve(port, clients):
    """Tell @clients to connect to our listener on @port, serve each;
    returns their client sockets' cookies."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    ids = []
    for c in clients:
        c.stdin.write("go\n")
        c.stdin.flush()
        a, _ = ls.accept()
        ids.append(int(c.stdout.readline()))
        eq(a.recv(16), b"x", "payload")
        eq(a.recv(16), b"", "EOF")
        a.close()
        eq(c.wait(TIMEOUT), 0, "client exit")
    ls.close()
    return ids


@test
def filter_pid_and_comm():
    """-p and --comm keep the sockets of the tasks named, with the
    transitions softirq makes for them; other processes' sockets go."""
    port = new_port()
    mine, other = _task_clients(port, "tt-mine", "tt-other")
    t = Tracer("-p", "%d,%d" % (mine.pid, os.getpid()))
    a, b = _serve(port, (mine, other))
    recs = t.stop(("127.0.0.1", None))
    states = [r for r in recs if r["type"] == "state"]
    # CLIENT includes the moves after the process exited (FIN_WAIT2 and
    # on, made in softirq or by timers): they pass as its socket's
    eq(transitions(recs, a), CLIENT, "the client of -p's process")
    eq(transitions(recs, b), [], "another process's client")
    check(not [r for r in recs if r.get("sock") == b],
          "nothing of another process's client")
    check(all(r["ctx"] != "task" or r["pid"] in (mine.pid, os.getpid())
              for r in states), "no other task's transitions")

    # --comm, with a marker from a task of that name
    port = new_port()
    mine, other = _task_clients(port, "tt-mine", "tt-other")
    t = Tracer("--comm", "tt-mine")
    a, b = _serve(port, (mine, other))
    marker = new_port()
    m, = _task_clients(marker, "tt-mine")
    m.stdin.write("go\n")
    m.stdin.flush()
    eq(m.wait(TIMEOUT), 0, "marker client")
    t.wait_for(lambda r: r.get("dport") == marker and r.get("new") == "CLOSE",
               "the marker of tt-mine")
    recs = t.stop(marker=None)
    eq(transitions(recs, a), CLIENT, "the client of the task named tt-mine")
    eq(transitions(recs, b), [], "tt-other's client")
    check(all(r["comm"] in (None, "tt-mine") for r in recs
              if r["type"] == "state"), "only tt-mine")


@test
def filter_family_and_addr():
    p4, p6 = new_port(), new_port()
    t6 = Tracer("-6")
    c4 = conversation(socket.AF_INET, "127.0.0.1", p4)
    c6 = conversation(socket.AF_INET6, "::1", p6)
    recs = t6.stop(("::1", None))
    socks = {r["sock"] for r in recs}
    check(c6[1] in socks and not socks & set(c4), "-6 shows only IPv6")
    check(all(r["family"] == 6 for r in recs), "-6 families")

    t4 = Tracer("-4")
    c4 = conversation(socket.AF_INET, "127.0.0.1", new_port())
    c6 = conversation(socket.AF_INET6, "::1", new_port())
    recs = t4.stop()
    socks = {r["sock"] for r in recs}
    check(c4[1] in socks and not socks & set(c6), "-4 shows only IPv4")

    ta = Tracer("--addr", "::1")
    c4 = conversation(socket.AF_INET, "127.0.0.1", new_port())
    c6 = conversation(socket.AF_INET6, "::1", new_port())
    recs = ta.stop(("::1", None))
    socks = {r["sock"] for r in recs}
    check(c6[1] in socks and not socks & set(c4), "--addr ::1")


@test
def filter_netns_and_count():
    sh("ip netns del ttc", False)
    sh("ip netns add ttc && ip -n ttc link set lo up")
    try:
        ino = netns_ino("/run/netns/ttc")
        t = Tracer("--netns", str(ino))
        conversation(socket.AF_INET, "127.0.0.1", new_port())   # init ns
        port = new_port()
        sh("ip netns exec ttc python3 -c 'import socket; s=socket.socket();"
           " s.connect_ex((\"127.0.0.1\", %d))'" % port)
        # the refused connect inside ttc is the marker
        t.wait_for(lambda r: r["dport"] == port and r.get("new") == "CLOSE",
                   "ttc connection")
        t.p.send_signal(signal.SIGINT)
        eq(t.p.wait(TIMEOUT), 0, "rc")
        recs = t.lines()
        check(recs and all(r["netns"] == ino for r in recs),
              "only ttc records: %r" % recs[:3])

        t = Tracer("-c", "3")
        conversation(socket.AF_INET, "127.0.0.1", new_port())
        eq(t.p.wait(TIMEOUT), 0, "-c exits by itself")
        eq(len(t.lines()), 3, "-c 3 prints 3 records")
    finally:
        sh("ip netns del ttc", False)


# record types of one refused connect: state x2, handshake x2, diag x2, conn
REFUSED_TYPES = [1, 1, 3, 3, 4, 4, 5]


@test
def device_contract_nonblock_poll_ioctl():
    fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
    try:
        # exclusive: a second reader is refused
        try:
            os.open(DEV, os.O_RDONLY)
            raise AssertionError("second open succeeded")
        except OSError as e:
            eq(e.errno, errno.EBUSY, "second open errno")
        v = bytearray(4)
        fcntl.ioctl(fd, IOC_VERSION, v)
        eq(struct.unpack("<I", v)[0], 1, "ABI version")
        # drain, then empty: EAGAIN, and poll says not readable
        while True:
            try:
                os.read(fd, 65536)
            except BlockingIOError:
                break
        p = select.poll()
        p.register(fd, select.POLLIN)
        eq(p.poll(0), [], "poll on empty device")
        try:
            os.read(fd, 65536)
            raise AssertionError("read on empty O_NONBLOCK device")
        except BlockingIOError:
            pass
        # short buffers are refused outright
        for n in (0, 1, 24, READ_MIN - 1):
            try:
                os.read(fd, n)
                raise AssertionError("read(%d) accepted" % n)
            except OSError as e:
                eq(e.errno, errno.EINVAL, "read(%d) errno" % n)
        # unknown ioctls
        for cmd in (0, ioc(0, 99, 0), 0x5401):
            try:
                fcntl.ioctl(fd, cmd, 0)
                raise AssertionError("ioctl %#x accepted" % cmd)
            except OSError as e:
                eq(e.errno, errno.ENOTTY, "ioctl %#x errno" % cmd)
        try:
            fcntl.ioctl(fd, IOC_RESET, 1)
            raise AssertionError("reset with argument accepted")
        except OSError as e:
            eq(e.errno, errno.EINVAL, "reset arg errno")
        try:
            os.write(fd, b"x" * 300)
            raise AssertionError("write accepted")
        except OSError as e:
            check(e.errno in (errno.EINVAL, errno.EBADF), "write errno")
        # a connection makes it readable, via poll and select
        fcntl.ioctl(fd, IOC_RESET, 0)
        s0 = stats(fd)
        eq((s0["produced"], s0["lost"], s0["delivered"]), (0, 0, 0), "reset")
        refused("127.0.0.1", new_port())
        ev = p.poll(TIMEOUT * 1000)
        eq(ev, [(fd, select.POLLIN)], "poll after connection")
        r, _, _ = select.select([fd], [], [], TIMEOUT)
        eq(r, [fd], "select after connection")
        # a READ_MIN buffer holds one whole record: never a part of one
        recs = read_records(os.read(fd, READ_MIN))
        eq(len(recs), 1, "one record per READ_MIN buffer")
        eq(recs[0][0], 1, "state record")
        while True:
            try:
                recs += read_records(os.read(fd, 65536))
            except BlockingIOError:
                break
        # a refused connect: two transitions, a handshake record and a
        # diagnosis for each end (client, and the server end that answered
        # with RST), and the client's totals
        eq(sorted(r[0] for r in recs), REFUSED_TYPES, "record types")
        s1 = stats(fd)
        n = len(REFUSED_TYPES)
        eq((s1["produced"], s1["delivered"], s1["lost"], s1["buffered"]),
           (n, n, 0, 0), "counters after one refused connect")
    finally:
        os.close(fd)


@test
def overflow_is_counted_and_reported():
    load("buf_size=8192")
    fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, IOC_RESET, 0)
        port = new_port()
        for _ in range(150):            # 7 records each, ~1 KiB
            refused("127.0.0.1", port)
        s = stats(fd)
        check(s["lost"] > 0, "records lost with an 8 KiB buffer: %r" % s)
        got = reported = 0
        while True:
            try:
                buf = os.read(fd, 65536)
            except BlockingIOError:
                break
            for typ, size, lost, raw in read_records(buf):
                reported += lost
                if typ == 2:
                    reported += struct.unpack_from("<Q", raw, HDR.size)[0]
                else:
                    got += 1
        s2 = stats(fd)
        diag("produced %d delivered %d lost %d reported-lost %d" % (
            s2["produced"], s2["delivered"], s2["lost"], reported))
        eq(reported, s2["lost"], "every lost record reported in-band")
        eq(got, s2["delivered"], "delivered = records read")
        eq(s2["produced"], s2["delivered"], "produced = delivered")
        want = 150 * len(REFUSED_TYPES)
        eq(s2["produced"] + s2["lost"], want,
           "all %d records accounted for: %r" % (want, s2))
    finally:
        os.close(fd)
    load()


def drain(fd):
    recs = []
    while True:
        try:
            recs += read_records(os.read(fd, 65536))
        except BlockingIOError:
            return recs


@test
def reader_chooses_record_types():
    """TCPTRACE_IOC_SET_TYPES: the module makes only what the reader wants,
    bad masks are refused, and the next open() starts with every type."""
    fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
    try:
        for bad in (0, 1 << 9, 1 << 0):
            try:
                fcntl.ioctl(fd, IOC_SET_TYPES, struct.pack("<I", bad))
                raise AssertionError("types %#x accepted" % bad)
            except OSError as e:
                eq(e.errno, errno.EINVAL, "types %#x errno" % bad)
        fcntl.ioctl(fd, IOC_SET_TYPES, struct.pack("<I", 1 << 3))
        drain(fd)
        fcntl.ioctl(fd, IOC_RESET, 0)
        refused("127.0.0.1", new_port())
        recs = drain(fd)
        eq(sorted(r[0] for r in recs), [3, 3], "handshake records only")
        s = stats(fd)
        eq((s["produced"], s["delivered"], s["lost"], s["buffered"]),
           (2, 2, 0, 0), "counters: the others were never made")
    finally:
        os.close(fd)
    fd = os.open(DEV, os.O_RDONLY | os.O_NONBLOCK)
    try:
        drain(fd)
        refused("127.0.0.1", new_port())
        eq(sorted(r[0] for r in drain(fd)), REFUSED_TYPES,
           "all types again after reopening")
    finally:
        os.close(fd)


@test
def cli_reports_lost_records():
    load("buf_size=8192")
    port = new_port()
    for _ in range(150):
        refused("127.0.0.1", port)
    r = subprocess.run([CLI, "--stats"], capture_output=True, text=True)
    eq(r.returncode, 0, "--stats rc")
    check("lost" in r.stdout, "--stats shows lost: " + r.stdout)
    t = Tracer()
    recs = t.stop()
    lost = [x for x in recs if x["type"] == "lost"]
    check(lost and sum(x["count"] for x in lost) > 0,
          "CLI prints lost records in-band")
    load()


@test
def unload_with_blocked_reader():
    load()
    blocked = subprocess.Popen(["python3", "-c",
                                "import os; fd = os.open('%s', os.O_RDONLY);"
                                " print('open', flush=True); os.read(fd, 4096)"
                                % DEV], stdout=subprocess.PIPE, text=True)
    eq(blocked.stdout.readline().strip(), "open", "reader opened")
    time.sleep(0.5)
    check(blocked.poll() is None, "reader blocked in read()")
    t0 = time.time()
    r = sh("rmmod tcptrace", False)
    check(r.returncode != 0, "rmmod refused while the device is open")
    check(time.time() - t0 < 10, "rmmod did not hang")
    check(os.path.exists("/sys/module/tcptrace"), "module still loaded")
    # the blocked reader still works: a connection wakes it with data
    refused("127.0.0.1", new_port())
    blocked.wait(TIMEOUT)
    eq(blocked.returncode, 0, "blocked read() returned data")

    # a reader blocked in poll(), killed: then unload succeeds
    poller = subprocess.Popen(["python3", "-c",
                               "import os, select; fd = os.open('%s', os.O_RDONLY);"
                               " [os.read(fd, 65536) for _ in iter(lambda: select.select([fd], [], [], 0)[0], [])];"
                               " print('open', flush=True); select.select([fd], [], [])"
                               % DEV], stdout=subprocess.PIPE, text=True)
    eq(poller.stdout.readline().strip(), "open", "poller opened")
    time.sleep(0.5)
    check(poller.poll() is None, "poller blocked")
    r = sh("rmmod tcptrace", False)
    check(r.returncode != 0, "rmmod refused while polled")
    poller.kill()
    poller.wait(TIMEOUT)
    sh("rmmod tcptrace")
    check(not os.path.exists(DEV), "device gone after unload")
    load()


@test
def container_reader_sees_only_its_namespace():
    sh("ip netns del ttq", False)
    sh("ip netns add ttq && ip -n ttq link set lo up")
    if KVER < (5, 12):
        # no namespace cookies: a reader in a container is refused
        try:
            r = sh("ip netns exec ttq %s -c 1" % CLI, False)
            eq(r.returncode, 1, "refused: %s" % r.stderr)
            check("need Linux 5.12" in r.stderr, r.stderr)
        finally:
            sh("ip netns del ttq", False)
        return
    try:
        ino = netns_ino("/run/netns/ttq")
        t = Tracer(prefix=("ip", "netns", "exec", "ttq"))
        host = conversation(socket.AF_INET, "127.0.0.1", new_port())
        port = new_port()
        sh("ip netns exec ttq python3 -c 'import socket; s=socket.socket();"
           " s.connect_ex((\"127.0.0.1\", %d))'" % port)
        t.wait_for(lambda r: r.get("dport") == port and
                   r.get("new") == "CLOSE", "its own connection")
        t.p.send_signal(signal.SIGINT)
        eq(t.p.wait(TIMEOUT), 0, "rc")
        recs = t.lines()
        check(recs, "the scoped reader got records")
        eq({r["netns"] for r in recs}, {ino}, "only ttq's records")
        check(not {r["sock"] for r in recs} & set(host),
              "none of the host's connections")
    finally:
        sh("ip netns del ttq", False)


@test
def unprivileged_user_is_refused():
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", CLI], capture_output=True,
                       text=True, timeout=TIMEOUT)
    eq(r.returncode, 1, "exit code")
    check("permission denied" in r.stderr and "root" in r.stderr, r.stderr)
    st = os.stat(DEV)
    eq((st.st_mode & 0o777, st.st_uid, st.st_gid), (0o600, 0, 0),
       "/dev/tcptrace is 0600 root:root")


@test
def module_parameter_out_of_range_refused():
    unload()
    for bad in ("buf_size=0", "buf_size=4096", "buf_size=1099511627776"):
        r = sh("insmod %s %s" % (KO, bad), False)
        check(r.returncode != 0, "insmod %s refused" % bad)
        check(not os.path.exists("/sys/module/tcptrace"), "not loaded")
    log = sh("dmesg | grep 'buf_size=' | tail -n1").stdout
    check("out of range" in log, "clear message in the kernel log: %r" % log)
    load()


if __name__ == "__main__":
    rc = run(sys.argv[1:], after_each=kill_tracers)
    unload()
    sys.exit(rc)
