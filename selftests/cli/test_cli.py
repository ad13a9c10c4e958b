#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Host-side tests of the CLI's decoder and error handling, on crafted record
streams fed with `tcpwhy -r FILE`: no module needed.
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import shutil
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tcptrace"))
from ktap import test, run, check, eq  # noqa: E402
import schema  # noqa: E402

CLI = os.environ.get("TCPTRACE_CLI",
                     os.path.join(os.path.dirname(__file__), "..", "..",
                                  "tools", "tcpwhy"))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
HDR = struct.Struct("<HHBBHIIQ")
# sock netns_cookie netns_ino pid tid family sport dport old new flags pad[3]
STATE = struct.Struct("<QQIIIHHHBBB3x16s16s16s")


def run_cli(argv, **kw):
    """subprocess.run() of the CLI; every JSON line it prints is checked
    against the schema."""
    r = subprocess.run(argv, **kw)
    out = r.stdout if isinstance(r.stdout, str) else \
        (r.stdout or b"").decode(errors="replace")
    for line in out.splitlines():
        if line.startswith("{"):
            schema.valid(json.loads(line))
    return r


def hdr(typ, size, ver=1, ctx=0, cpu=0, lost=0, ts=1000):
    return HDR.pack(typ, size, ver, ctx, cpu, lost, 0, ts)


def state(old=7, new=2, sock=42, ctx=0, lost=0, ts=1000, fam=socket.AF_INET,
          sport=40000, dport=80, comm=b"curl", extra=b"", ver=None, cg=None,
          pid=1234, sa=None, da=None, flags=0):
    """A state record: version 1 (112 bytes, no cgroup) unless @cg, the
    socket's cgroup id, makes it version 2 (120 bytes)."""
    if ver is None:
        ver = 1 if cg is None else 2
    if cg is not None:
        extra = struct.pack("<Q", cg) + extra
    size = HDR.size + STATE.size + len(extra)
    if fam == socket.AF_INET:
        sa = socket.inet_aton(sa or "10.0.0.1") + bytes(12)
        da = socket.inet_aton(da or "10.0.0.2") + bytes(12)
    else:
        sa = socket.inet_pton(fam, sa or "fd00::1")
        da = socket.inet_pton(fam, da or "fd00::2")
    return hdr(1, size, ver=ver, ctx=ctx, lost=lost, ts=ts) + STATE.pack(
        sock, 7, 4026531840, pid, pid + 1, fam, sport, dport, old, new,
        flags, sa, da, comm) + extra


# sock netns_cookie ino family kind cause sport dport state flags ttl_seen
# ttl_expected saddr daddr duration count reason_code reason
DIAG = struct.Struct("<QQIHBBHHBBBB16s16sQII32s")


def diag_rec(kind, cause=0, state=0, flags=0, ttl=(0, 0), reason=b"",
             duration=0, count=0, sport=80, dport=40000, cg=None, sock=7,
             iif=None, mtu=None, oif=0, other=0):
    """A diagnosis, version 1 (136 bytes) unless @cg (version 2, 144),
    @iif (version 3, 152: the SYN's interface) or @mtu (version 4, 160:
    a forwarding route's device @oif and MTU)."""
    ver = (4 if mtu is not None else 3 if iif is not None else
           2 if cg is not None else 1)
    extra = b"" if ver == 1 else struct.pack("<Q", cg or 0)
    if ver == 3:
        extra += struct.pack("<II", iif, 0)
    if ver == 4:
        extra += struct.pack("<IIII", iif or 0, oif, mtu, other)
    size = HDR.size + DIAG.size + len(extra)
    return hdr(4, size, ver=ver) + DIAG.pack(
        sock, 1, 4026531840, socket.AF_INET, kind, cause, sport, dport, state,
        flags, ttl[0], ttl[1], socket.inet_aton("10.0.0.1") + bytes(12),
        socket.inet_aton("10.0.0.2") + bytes(12), duration, count, 0,
        reason) + extra


def lost_rec(count, cpu=1):
    return hdr(2, HDR.size + 8, cpu=cpu) + struct.pack("<Q", count)


# sock netns_cookie netns_ino family old_state pad sport dport total_retrans
# saddr daddr bytes_sent bytes_received segs_out segs_in
CONN = struct.Struct("<QQIHBxHHI16s16sQQII")


def conn_rec(sock=42, old=1, ts=5000, sport=40000, dport=80, cg=None,
             ver=None):
    """A conn (totals) record, version 1 unless @cg (version 2)."""
    if ver is None:
        ver = 1 if cg is None else 2
    extra = b"" if cg is None else struct.pack("<Q", cg)
    return hdr(5, HDR.size + CONN.size + len(extra), ver=ver, ts=ts) + \
        CONN.pack(sock, 7, 4026531840, socket.AF_INET, old, sport, dport, 0,
                  socket.inet_aton("10.0.0.1") + bytes(12),
                  socket.inet_aton("10.0.0.2") + bytes(12), 5, 6, 3, 4) + \
        extra


def cli(data, *args, env=None):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        return run_cli([CLI, "-r", f.name, *args], capture_output=True,
                              text=True,
                              env=None if env is None else
                              dict(os.environ, **env))
    finally:
        os.unlink(f.name)


class FakeCgroups:
    """A directory tree standing in for the cgroup2 mount: a cgroup's id
    is its directory's inode number, as on cgroup2."""

    def __init__(self, *paths):
        self.root = tempfile.mkdtemp(prefix="tt-cgroup-")
        for p in paths:
            os.makedirs(os.path.join(self.root, p.strip("/")))
        self.env = {"TCPTRACE_CGROUP_ROOT": self.root}

    def id(self, path):
        return os.stat(os.path.join(self.root, path.strip("/"))).st_ino

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root)


@test
def state_record_sizes_match_abi():
    eq(HDR.size, 24, "header size")
    eq(HDR.size + STATE.size, 112, "state record size, version 1")
    eq(len(state(cg=1)), 120, "state record size, version 2")
    eq(HDR.size + CONN.size, 112, "conn record size, version 1")
    eq(len(conn_rec(cg=1)), 120, "conn record size, version 2")


@test
def decodes_state_records_json():
    r = cli(state() + state(old=2, new=1, ts=3000, ctx=1), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    a, b = [json.loads(x) for x in r.stdout.splitlines()]
    eq((a["type"], a["old"], a["new"], a["saddr"], a["sport"], a["daddr"],
        a["dport"], a["family"], a["pid"], a["comm"], a["sock"]),
       ("state", "CLOSE", "SYN_SENT", "10.0.0.1", 40000, "10.0.0.2", 80, 4,
        1234, "curl", 42), "first record")
    eq((b["pid"], b["comm"], b["ctx"], b["in_old_ns"]),
       (None, None, "softirq", 2000), "softirq record, time in SYN_SENT")


def state_v3(pid, vpid, pidns, comm=b"curl"):
    """A version 3 state record (136 bytes): the task's own PID namespace
    and its numbers there after the cgroup id; @pid global (0: hidden)."""
    body = bytearray(state(cg=5, comm=comm)[HDR.size:])
    struct.pack_into("<II", body, 44 - HDR.size, pid, pid)
    body += struct.pack("<IIII", pidns, vpid, vpid, 0)
    return hdr(1, HDR.size + len(body), ver=3) + bytes(body)


@test
def task_of_the_readers_pid_namespace():
    """Version 3: a host reader's record names the global pid and the
    task's PID namespace; a container reader's (global pid 0) its own
    number; a task hidden from it (both 0) is "[task]", no comm."""
    eq(len(state_v3(1, 1, 1)), 136, "state record size, version 3")
    recs = (state_v3(4321, 7, 4026532999) + state_v3(0, 7, 4026532999) +
            state_v3(0, 0, 0, comm=b""))
    r = cli(recs, "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    a, b, c = [json.loads(x) for x in r.stdout.splitlines()]
    eq((a["pid"], a["vpid"], a["vtid"], a["pidns"], a["comm"]),
       (4321, 7, 7, 4026532999, "curl"), "host reader")
    eq((b["pid"], b["vpid"], b["pidns"], b["comm"]),
       (7, 7, 4026532999, "curl"), "container reader, its own task")
    eq((c["pid"], c["vpid"], c["pidns"], c["comm"]),
       (None, None, None, None), "container reader, a host task")
    r = cli(recs)
    eq(r.returncode, 0, "rc " + r.stderr)
    l1, l2, l3 = r.stdout.splitlines()
    check("4321/curl" in l1 and "7/curl" in l2 and "[task]" in l3,
          "text: %r" % r.stdout)


@test
def kernel_without_drop_reasons_says_so():
    """An unanswered SYN from a kernel that gives no drop reasons (5.10):
    no reason, no_drop_reason in JSON, and the text says why."""
    rec = diag_rec(1, cause=4, flags=0x10, duration=10 ** 9, count=1)
    r = cli(rec, "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    d = json.loads(r.stdout)
    eq((d["cause"], d["reason"], d["no_drop_reason"]),
       ("unanswered", None, True), "JSON")
    check("gives no drop reasons" in d["explain"], d["explain"])
    r = cli(diag_rec(1, cause=4, duration=10 ** 9, count=1), "-j")
    eq(json.loads(r.stdout)["no_drop_reason"], False, "without the flag")


@test
def text_output_names_softirq_and_duration():
    r = cli(state() + state(old=2, new=1, ts=2001000, ctx=1))
    eq(r.returncode, 0, "rc")
    l1, l2 = r.stdout.splitlines()
    check("1234/curl" in l1 and "10.0.0.1:40000 > 10.0.0.2:80" in l1 and
          "CLOSE -> SYN_SENT" in l1, l1)
    check("[softirq]" in l2 and "1234" not in l2 and
          "(2.000 ms in SYN_SENT)" in l2, l2)


@test
def ipv6_endpoints_bracketed():
    r = cli(state(fam=socket.AF_INET6))
    check("[fd00::1]:40000 > [fd00::2]:80" in r.stdout, r.stdout)


@test
def lost_records_reported():
    r = cli(state(lost=5) + lost_rec(7), "-j")
    eq(r.returncode, 0, "rc")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    eq([x["type"] for x in lines], ["lost", "state", "lost"], "order")
    eq((lines[0]["count"], lines[2]["count"], lines[2]["cpu"]), (5, 7, 1),
       "counts")
    t = cli(lost_rec(3))
    check("lost 3 records on cpu 1" in t.stdout, t.stdout)


@test
def diag_record_sizes_match_abi():
    eq(HDR.size + DIAG.size, 136, "diag record size")


@test
def diag_v3_names_the_syns_interface():
    """Version 3 diag records carry the interface a SYN came in on, as an
    index; its name is looked up live only (a capture file's interfaces
    are another moment's).  Older records say nothing of it."""
    r = cli(diag_rec(1, cause=4, duration=10 ** 9, count=1, iif=5), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    d = json.loads(r.stdout)
    eq((d["in_ifindex"], d["in_dev"], d["route_back"]), (5, None, None),
       "v3: the index, no live name or route from a file")
    d = json.loads(cli(diag_rec(1, cause=4, count=1, cg=9), "-j").stdout)
    eq((d["in_ifindex"], d["cgroup_id"]), (None, 9), "v2: no interface")


@test
def dropped_segments_and_forwarded_packets():
    """Version 4 diag records: an episode of an established connection's
    segments dropped, and of forwarded packets too big for the route out
    (its device and MTU); each names the kernel's reason and explains it.
    A version 3 record has no MTU."""
    r = cli(diag_rec(10, cause=1, reason=b"PROTO_MEM", count=20, other=2,
                     duration=19 * 10 ** 8, iif=2, mtu=0), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    d = json.loads(r.stdout)
    eq((d["diag"], d["reason"], d["count"], d["in_ifindex"], d["mtu"],
        d["out_ifindex"]), ("data_dropped", "PROTO_MEM", 20, 2, None, None),
       "data_dropped")
    eq(d["count_other"], 2, "2 of the 20 for other reasons")
    check(d["explain"].startswith("20 segments of this connection dropped "
                                  "on the way in (1.9s; 2 of them for "
                                  "other reasons than the first's): the "
                                  "kernel dropped the first: PROTO_MEM")
          and
          "receive buffer" in d["explain"] and "tcp_rmem" in d["check"],
          d["explain"])
    r = cli(diag_rec(11, cause=1, reason=b"PKT_TOO_BIG", count=9, sock=0,
                     duration=16 * 10 ** 8, iif=2, oif=3, mtu=1280))
    eq(r.returncode, 0, "rc " + r.stderr)
    check("9 packets from 10.0.0.1 dropped while forwarding (1.6s): larger "
          "than the MTU 1280" in r.stdout and "black hole" in r.stdout and
          "clamp the MSS" in r.stdout, r.stdout)
    d = json.loads(cli(diag_rec(11, cause=1, reason=b"PKT_TOO_BIG",
                                count=1, iif=2, mtu=1280, oif=3),
                       "-j").stdout)
    eq((d["diag"], d["mtu"], d["out_ifindex"], d["out_dev"]),
       ("fwd_dropped", 1280, 3, None), "fwd_dropped, from a file")
    check("If they keep coming" in d["explain"], d["explain"])
    d = json.loads(cli(diag_rec(11, cause=1, reason=b"PKT_TOO_BIG",
                                count=1, iif=2), "-j").stdout)
    eq((d["mtu"], d["out_ifindex"]), (None, None), "v3: no MTU")


@test
def diagnoses_in_plain_words():
    # RST in ESTABLISHED whose TTL differs from the peer's: a middlebox
    r = cli(diag_rec(4, state=1, flags=1, ttl=(52, 64)), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    d = json.loads(r.stdout)
    eq((d["type"], d["diag"], d["state"], d["middlebox"], d["ttl_seen"],
        d["ttl_expected"]), ("diag", "rst_in", "ESTABLISHED", True, 52, 64),
       "rst_in fields")
    check("RST likely injected by a middlebox (TTL 52 vs 64" in d["explain"],
          d["explain"])
    # a SYN dropped by the kernel for NETFILTER_DROP
    r = cli(diag_rec(1, cause=1, reason=b"NETFILTER_DROP",
                     duration=1200000000, count=1))
    check("SYN arrived, no SYN-ACK left (1.2s): the kernel dropped it: "
          "NETFILTER_DROP: a firewall rule" in r.stdout, r.stdout)
    check("Check: nft list ruleset" in r.stdout, r.stdout)
    # a client that gave up after 3 SYNs
    r = cli(diag_rec(2, cause=4, count=3, duration=3000000000))
    check("no SYN-ACK after 3 tries (3.0s)" in r.stdout, r.stdout)
    # --diag keeps diagnoses and drops transitions
    r = cli(state() + diag_rec(5), "-j", "--diag")
    eq([json.loads(x)["type"] for x in r.stdout.splitlines()], ["diag"],
       "--diag")
    r = cli(state() + diag_rec(5), "-j", "--handshakes")
    eq(r.stdout, "", "--handshakes drops diagnoses and transitions")


@test
def reasons_explained_or_shown_as_they_are():
    """A known drop or reset reason comes with its meaning and what to
    check (text and JSON); an unknown one is shown as the kernel spells
    it, with null meaning and check."""
    r = cli(diag_rec(1, cause=1, reason=b"IP_RPFILTER", duration=10 ** 9,
                     count=1), "-j")
    d = json.loads(r.stdout)
    check("reverse-path filter" in d["meaning"], d["meaning"])
    check("rp_filter" in d["check"], d["check"])
    check("IP_RPFILTER: the reverse-path filter" in d["explain"] and
          "Check: net.ipv4.conf.all.rp_filter" in d["explain"],
          d["explain"])
    # sysctl values only on a live trace: a capture file's namespaces are
    # another moment's, maybe another host's
    eq(d["sysctls"], None, "no sysctl values from a capture file")
    check("now in its netns" not in d["explain"], d["explain"])
    r = cli(diag_rec(1, cause=1, reason=b"SOME_NEW_REASON", count=1), "-j")
    d = json.loads(r.stdout)
    eq((d["reason"], d["meaning"], d["check"]),
       ("SOME_NEW_REASON", None, None), "unknown reason")
    check(d["explain"].endswith("the kernel dropped it: SOME_NEW_REASON"),
          d["explain"])
    # an RST this host sent, with the kernel's reset reason (flag 0x4)
    r = cli(diag_rec(3, cause=1, flags=0x4, reason=b"NO_SOCKET"))
    check("[kernel reset reason: NO_SOCKET: nothing listens on that port"
          in r.stdout and "Check: ss -lnt" in r.stdout, r.stdout)
    # SYN cookies off and the SYN queue full: no drop reason, a cause
    r = cli(diag_rec(1, cause=16, count=1, duration=4 * 10 ** 8), "-j")
    d = json.loads(r.stdout)
    eq(d["cause"], "syn_queue_full", "cause name")
    check("SYN queue" in d["explain"] and "tcp_syncookies" in d["explain"],
          d["explain"])
    r = run_cli([CLI, "explain", "TCP_CSUM", "XFRM_POLICY"],
                       capture_output=True, text=True)
    eq(r.returncode, 0, r.stderr)
    check("TCP_CSUM (drop reason): bad TCP checksum" in r.stdout and
          "XFRM_POLICY (drop reason): an IPsec" in r.stdout, r.stdout)
    r = run_cli([CLI, "explain", "NO_SUCH_THING"],
                       capture_output=True, text=True)
    eq(r.returncode, 3, "unknown name: rc")
    check("no explanation of 'NO_SUCH_THING'" in r.stderr, r.stderr)


@test
def diagnosing_rst_tables_are_the_clis():
    """Documentation/diagnosing.rst's reason tables are exactly what
    tcpwhy explain rst prints: the two cannot drift."""
    doc = open(os.path.join(ROOT, "Documentation", "diagnosing.rst")).read()
    begin = ".. BEGIN tcpwhy explain rst\n\n"
    end = ".. END tcpwhy explain rst\n"
    check(begin in doc and end in doc, "markers in diagnosing.rst")
    table = doc.split(begin, 1)[1].split(end, 1)[0]
    r = run_cli([CLI, "explain", "rst"], capture_output=True,
                       text=True)
    eq(r.returncode, 0, r.stderr)
    eq(table, r.stdout, "diagnosing.rst tables vs tcpwhy explain rst "
       "(regenerate them with it)")


@test
def capture_files_stream_and_check_abi():
    capture = b"TCPTRACE" + struct.pack("<II", 1, 0)
    # 20,000 records, 2.2 MB: records straddle the reader's 1 MiB chunks
    data = b"".join(state(sock=i, ts=1000 + i) for i in range(20000))
    r = cli(capture + data, "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    socks = [json.loads(x)["sock"] for x in r.stdout.splitlines()]
    eq(socks, list(range(20000)), "every record, in order")
    r = cli(b"TCPTRACE" + struct.pack("<II", 99, 0) + state())
    eq(r.returncode, 3, "future capture ABI")
    check("written with record ABI v99" in r.stderr, r.stderr)
    r = cli(capture + state() + state()[:50])
    eq(r.returncode, 3, "capture cut inside a record")
    check("truncated record" in r.stderr, r.stderr)
    # the writer's clock offset: times of day of the capture, not of now
    hdr = b"TCPTRACE" + struct.pack("<IIq", 1, 24, 1700000000 * 10**9)
    r = run_cli([CLI, "-r", "-"], input=hdr + state(ts=1000),
                       capture_output=True, env=dict(os.environ, TZ="UTC"))
    eq(r.returncode, 0, "capture with offset")
    check(r.stdout.startswith(b"22:13:20.000001 "), "time of day: %r" % r.stdout)
    for bad in (8, 20, 4096):
        h = b"TCPTRACE" + struct.pack("<IIq", 1, bad, 0)
        eq(cli(h + state()).returncode, 3, "header length %d" % bad)


def capture_header(offset_ns, host=b"web1", release=b"6.1.0-57-amd64",
                   boot=b"0b8e6f6e-2f6e-4b8a-9d7c-5a1f2e3d4c5b"):
    """The header tcpwhy 0.2 writes: 208 bytes."""
    return b"TCPTRACE" + struct.pack("<IIq40s72s72s", 1, 208, offset_ns,
                                     boot, host, release)


@test
def capture_header_names_the_writer():
    """A capture says which host, kernel and boot wrote it; -r shows that
    once on stderr (control characters replaced), and reads the records
    after a header of any length the header says."""
    h = capture_header(1700000000 * 10**9, host=b"web1\x1b[31m")
    r = run_file(h + state(ts=1000), "-r", "FILE")
    eq(r.returncode, 0, r.stderr)
    check(r.stdout.startswith("22:13:20.000001 "), r.stdout)
    check("written on web1?[31m (Linux 6.1.0-57-amd64, boot "
          "0b8e6f6e-2f6e-4b8a-9d7c-5a1f2e3d4c5b)" in r.stderr, r.stderr)
    j = run_file(h + state(ts=1000), "-j", "-r", "FILE")
    eq(j.stderr, "", "nothing on stderr with -j")
    eq(json.loads(j.stdout)["realtime_ns"], 1700000000 * 10**9 + 1000,
       "the offset of the header")
    # a longer header, from a later tcpwhy: its records still decode
    longer = h[:12] + struct.pack("<I", 256) + h[16:] + bytes(48)
    eq(socks_of(longer + state(sock=5)), [5], "a 256-byte header")


@test
def unknown_record_type_skipped():
    future = hdr(77, 40) + bytes(16)
    r = cli(future + state(), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    eq(len(r.stdout.splitlines()), 1, "unknown type skipped")


@test
def newer_state_layout_decoded_by_prefix():
    r = cli(state(ver=3, cg=0, extra=bytes(16)) + state(), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    eq(len(r.stdout.splitlines()), 2, "two records")


@test
def v1_and_v2_records_decode_alike():
    """An older module's records (version 1, no cgroup) and a newer one's
    without a known cgroup print the same, but for the new fields."""
    with FakeCgroups("a/b") as fake:
        for args in (("-j",), ()):
            v1 = cli(state() + state(old=2, new=1, ts=3000, ctx=1), *args,
                     env=fake.env)
            v2 = cli(state(cg=0) + state(old=2, new=1, ts=3000, ctx=1,
                                         cg=0), *args, env=fake.env)
            eq((v1.returncode, v2.returncode), (0, 0), "rc " + v1.stderr +
               v2.stderr)
            if args:
                eq(v1.stdout, v2.stdout, "same output %r" % (args,))
            else:
                # each run reads the clocks for the wall time: it may
                # differ in the last digits
                eq([x.split(" ", 1)[1] for x in v1.stdout.splitlines()],
                   [x.split(" ", 1)[1] for x in v2.stdout.splitlines()],
                   "same text but for the wall time")
        lines = v1.stdout.splitlines()
        check(all("cgroup" not in x for x in lines), "text: no cgroup")
        r = cli(state(), "-j", env=fake.env)
        check(r.stdout.endswith(',"in_old_ns":null,"cgroup_id":0,'
                                '"cgroup":null}\n'), r.stdout)
        # a known cgroup: its path, in JSON and at the end of text lines
        ab = fake.id("a/b")
        r = cli(state(cg=ab) + state(cg=fake.id("/")), "-j", env=fake.env)
        a, b = [json.loads(x) for x in r.stdout.splitlines()]
        eq((a["cgroup_id"], a["cgroup"]), (ab, "/a/b"), "v2 cgroup")
        eq((b["cgroup_id"], b["cgroup"]), (fake.id("/"), "/"), "root cgroup")
        r = cli(state(cg=ab) + state(sock=43, cg=fake.id("/")),
                env=fake.env)
        l1, l2 = r.stdout.splitlines()
        check(l1.endswith("CLOSE -> SYN_SENT cgroup:/a/b"), l1)
        check(l2.endswith("CLOSE -> SYN_SENT"), "root not shown: " + l2)
        eq(l2 + " cgroup:/a/b", l1, "otherwise the same line")
        # an id no walk finds (a removed cgroup): null, and no suffix
        r = cli(state(cg=ab + 1000000) + state(cg=ab + 1000000), "-j",
                env=fake.env)
        eq([json.loads(x)["cgroup"] for x in r.stdout.splitlines()],
           [None, None], "unknown id")


@test
def cgroup_paths_escaped_and_bounded():
    """Odd names come out as valid JSON and printable text; paths too long
    for a line (JSON over 3 KiB) are not named."""
    odd = 'we"ird\\na\x01me \u00e9'
    deep = "/".join(["d" * 250] * 14)
    with FakeCgroups(odd, deep) as fake:
        ids = [fake.id(odd)] + [fake.id("/".join(["d" * 250] * n))
                                for n in range(1, 15)]
        data = b"".join(state(sock=i + 1, cg=cg) for i, cg in enumerate(ids))
        r = cli(data, "-j", env=fake.env)
        eq(r.returncode, 0, "rc " + r.stderr)
        got = [json.loads(x)["cgroup"] for x in r.stdout.splitlines()]
        # bytes >= 0x7f are escaped one by one, as for comm
        eq(got[0], "/" + odd.encode().decode("latin-1"), "odd name")
        named = [g for g in got[1:] if g is not None]
        eq(named, ["/" + "/".join(["d" * 250] * n) for n in range(1, 13)],
           "up to 3 KiB of path")
        r = cli(data[:120], env=fake.env)
        check(r.stdout.endswith(" cgroup:/%s\n" % odd.replace("\x01", "?")),
              "control characters as '?': %r" % r.stdout)


@test
def conn_records_v1_and_v2():
    with FakeCgroups("svc") as fake:
        svc = fake.id("svc")
        r = cli(state(sock=1) + conn_rec(sock=1) + state(sock=2) +
                conn_rec(sock=2, cg=svc), "conns", "-j", env=fake.env)
        eq(r.returncode, 0, "rc " + r.stderr)
        a, b = [json.loads(x) for x in r.stdout.splitlines()]
        eq((a["type"], a["sock"], a["cgroup_id"], a["cgroup"]),
           ("conn", 1, 0, None), "version 1 conn")
        eq((b["sock"], b["bytes_sent"], b["cgroup_id"], b["cgroup"]),
           (2, 5, svc, "/svc"), "version 2 conn")
        check(r.stdout.splitlines()[0].endswith(
            ',"diags":[],"cgroup_id":0,"cgroup":null}'), r.stdout)
        r = cli(state(sock=1) + conn_rec(sock=1, cg=svc), "conns",
                env=fake.env)
        check("cgroup" not in r.stdout, "conns text unchanged: " + r.stdout)


@test
def cgroup_filter():
    """--cgroup PATH: that cgroup and the ones below it; records without a
    known cgroup do not match, diagnoses included."""
    with FakeCgroups("a/b/c", "a2", "x") as fake:
        ids = {p: fake.id(p) for p in ("/", "a", "a/b", "a/b/c", "a2", "x")}
        data = b"".join(state(sock=i + 1, cg=cg) for i, cg in
                        enumerate(ids.values()))
        data += state(sock=7) + state(sock=8, cg=0) + \
            state(sock=9, cg=ids["x"] + 1000000) + \
            diag_rec(4, state=1, sport=81, dport=9999, cg=ids["a/b"],
                     sock=10) + \
            diag_rec(4, state=1, sport=81, dport=9999, sock=11)

        def socks(*args):
            r = cli(data, "-j", *args, env=fake.env)
            eq(r.returncode, 0, "rc %r: %s" % (args, r.stderr))
            return [json.loads(x)["sock"] for x in r.stdout.splitlines()]

        for arg in ("/a", "a", "a/", "//a//", fake.root + "/a",
                    fake.root + "//a/"):
            eq(socks("--cgroup", arg), [2, 3, 4, 10], "--cgroup " + arg)
        eq(socks("--cgroup", "/a/b"), [3, 4, 10], "a/b and below")
        eq(socks("--cgroup", "/a/b/c"), [4], "a leaf")
        eq(socks("--cgroup", "/a2"), [5], "not a prefix match")
        eq(socks("--cgroup", "/"), [1, 2, 3, 4, 5, 6, 10], "the root: all "
           "known")
        eq(socks("--cgroup", fake.root), [1, 2, 3, 4, 5, 6, 10],
           "the mount itself")
        eq(socks("--cgroup", "/a", "-P", "40000"), [2, 3, 4],
           "with other filters")
        eq(socks("--cgroup", "/a", "-P", "81"), [10], "with other filters, "
           "the diagnosis of that cgroup")
        r = cli(data, "-j", "--cgroup", "/nope", env=fake.env)
        eq(r.stdout, "", "no such cgroup: nothing")
        check("no such cgroup" in r.stderr, "warned: " + r.stderr)
        # conns: the totals records are filtered the same way
        conns = state(sock=1) + conn_rec(sock=1, cg=ids["a/b"]) + \
            state(sock=2) + conn_rec(sock=2, cg=ids["x"]) + \
            state(sock=3) + conn_rec(sock=3)
        r = cli(conns, "conns", "-j", "--cgroup", "/a", env=fake.env)
        eq([json.loads(x)["sock"] for x in r.stdout.splitlines()], [1],
           "conns --cgroup")
        r = run_cli([CLI, "conns", "--state", "time-wait",
                            "--cgroup", "/a"], capture_output=True, text=True,
                           env=dict(os.environ, **fake.env))
        eq(r.returncode, 2, "--cgroup with --state")


@test
def truncated_record_is_an_error():
    for data in (state()[:60], state() + state()[:10], hdr(1, 112)):
        r = cli(data)
        eq(r.returncode, 3, "exit code for truncated data")
        check("truncated record" in r.stderr, r.stderr)


@test
def malformed_record_is_an_error():
    bad = [hdr(1, 12) + bytes(100),          # size smaller than a header
           hdr(1, 27) + bytes(100),          # not a multiple of 8
           hdr(1, 32) + bytes(8),            # state record too small
           state(ver=0),                     # version 0 does not exist
           state(ver=2),                     # version 2 without cgroup_id
           conn_rec(ver=2) + bytes(8)]       # the same for totals
    for data in bad:
        r = cli(data)
        eq(r.returncode, 3, "exit code for %r" % data[:8])
        check("malformed record" in r.stderr, r.stderr)


@test
def missing_device_is_explained():
    r = run_cli([CLI, "-D", "/nonexistent/tcptrace"],
                       capture_output=True, text=True)
    eq(r.returncode, 1, "rc")
    check("is the tcptrace module loaded" in r.stderr, r.stderr)


@test
def not_a_tcptrace_device_is_explained():
    r = run_cli([CLI, "-D", "/dev/null"], capture_output=True,
                       text=True)
    eq(r.returncode, 3, "rc")
    check("not a tcptrace device" in r.stderr, r.stderr)


@test
def bad_usage():
    for args in (["-P", "70000"], ["-P", "90-80"], ["-p", "0"],
                 ["-P", "nosuchservice"], ["--addr", "10.0.0.0/33"],
                 ["--addr", "nope"], ["-c", "0"], ["-d", "-1"],
                 ["-d", "5x"], ["-T", "bogus"], ["--state", "nope"],
                 ["--comm", "a-name-longer-than-15"], ["-r", "x", "-w", "y"],
                 ["--stats", "-r", "x"], ["-w", "x", "-j"],
                 ["-r", "x", "-d", "1"], ["conns", "--state", "listen"],
                 ["conns", "--state", "time-wait", "-p", "1"],
                 ["--state", "established", "--diag"], ["-p", "0x10"],
                 ["-d", "1000000d"], ["--color=sometimes"], ["--bogus"],
                 ["extra"]):
        r = run_cli([CLI, *args], capture_output=True, text=True)
        eq(r.returncode, 2, "usage error for %r" % args)


@test
def filters_apply_to_files():
    data = state(sport=1, dport=2, sock=1) + state(sport=3, dport=4, sock=2)
    r = cli(data, "-j", "-P", "4")
    eq([json.loads(x)["sock"] for x in r.stdout.splitlines()], [2], "-P 4")
    r = cli(data + state(fam=socket.AF_INET6, sock=3), "-j", "-6")
    eq([json.loads(x)["sock"] for x in r.stdout.splitlines()], [3], "-6")
    r = cli(data, "-j", "-c", "1")
    eq(len(r.stdout.splitlines()), 1, "-c 1")


def run_file(data, *args, tz="UTC"):
    """Run the CLI with @args, where "FILE" stands for a file of @data."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        return run_cli([CLI, *[f.name if a == "FILE" else a
                                      for a in args]],
                              capture_output=True, text=True,
                              env=dict(os.environ, TZ=tz))
    finally:
        os.unlink(f.name)


@test
def subcommands_from_one_table():
    """tcpwhy --help lists every subcommand, each has its own --help, and
    a bad option is one line that points to the right --help."""
    r = run_cli([CLI, "--help"], capture_output=True, text=True)
    eq(r.returncode, 0, "--help")
    for sub in ("trace", "conns", "timewait", "stats", "explain", "metrics"):
        check(("\n  %s " % sub) in r.stdout, "listed: " + sub)
        h = run_cli([CLI, sub, "--help"], capture_output=True,
                           text=True)
        eq(h.returncode, 0, sub + " --help: " + h.stderr)
        check(h.stdout.startswith("usage: tcpwhy"), sub + ": " + h.stdout)
    for sub in ("trace", "conns", "timewait", "stats", "metrics"):
        b = run_cli([CLI, sub, "--bogus"], capture_output=True,
                           text=True)
        eq(b.returncode, 2, sub + " --bogus")
        eq(b.stdout, "", sub + " --bogus: stdout")
        want = "tcpwhy --help" if sub == "trace" else \
            "tcpwhy %s --help" % sub
        check(want in b.stderr and len(b.stderr.splitlines()) <= 2,
              sub + ": " + b.stderr)
    # trace is the default, and the older spellings still work
    data = state(sock=1) + state(sock=2, new=1) + conn_rec(sock=1)
    plain = run_file(data, "-j", "-r", "FILE")
    eq(plain.returncode, 0, plain.stderr)
    eq(len(plain.stdout.splitlines()), 2, plain.stdout)
    eq(run_file(data, "trace", "-j", "-r", "FILE").stdout, plain.stdout,
       "tcpwhy trace")
    conns = run_file(data, "conns", "-j", "-r", "FILE")
    eq([json.loads(x)["type"] for x in conns.stdout.splitlines()],
       ["conn"], conns.stdout)
    eq(run_file(data, "-j", "-r", "FILE", "conns").stdout, conns.stdout,
       "options before conns")
    eq(run_file(data, "stats", "extra").returncode, 2, "stats extra")


@test
def timewait_lists_real_sockets():
    """A real TIME_WAIT socket of this host, through sock_diag: the new
    subcommand and the older conns --state time-wait say the same."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen()
    port = ls.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = ls.accept()
    cport = c.getsockname()[1]
    c.close()       # the first to close ends in TIME_WAIT
    s.close()
    ls.close()
    found = []
    for _ in range(50):
        r = run_cli([CLI, "timewait", "-j", "-P", str(port)],
                           capture_output=True, text=True)
        eq(r.returncode, 0, r.stderr)
        found = [json.loads(x) for x in r.stdout.splitlines()]
        if found:
            break
        time.sleep(0.1)
    eq([(x["saddr"], x["sport"], x["dport"]) for x in found],
       [("127.0.0.1", cport, port)], r.stdout)
    check(0 < found[0]["remaining_ms"] <= 60000, r.stdout)
    old = run_cli([CLI, "conns", "--state", "time-wait", "-j", "-P",
                          str(port)], capture_output=True, text=True)
    eq([(x["sport"], x["dport"]) for x in map(json.loads,
                                              old.stdout.splitlines())],
       [(cport, port)], "conns --state time-wait")
    older = run_cli([CLI, "-j", "-P", str(port), "conns", "--state",
                     "time-wait"], capture_output=True, text=True)
    eq([(x["sport"], x["dport"]) for x in map(json.loads,
                                              older.stdout.splitlines())],
       [(cport, port)], "-j -P PORT conns --state time-wait")
    text = run_cli([CLI, "timewait", "-P", str(port)],
                          capture_output=True, text=True).stdout
    check(("port %d on 127.0.0.1 is busy" % cport) in text, text)
    none = run_cli([CLI, "timewait", "-6", "-P", str(port)],
                          capture_output=True, text=True)
    eq(none.stdout, "no TIME_WAIT sockets match in this network "
       "namespace\n", "-6 filters it out")


@test
def read_from_a_pipe_streams():
    """tcpwhy -r - prints each record as it arrives, a header cut in
    pieces included: ssh host tcpwhy -w - | tcpwhy -r - streams."""
    p = subprocess.Popen([CLI, "-j", "-r", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    hdr = b"TCPTRACE" + struct.pack("<IIq", 1, 24, 0)

    def line_within(secs):
        ready, _, _ = select.select([p.stdout], [], [], secs)
        return p.stdout.readline() if ready else b""

    try:
        for piece in (hdr[:5], hdr[5:17], hdr[17:]):
            p.stdin.write(piece)
            p.stdin.flush()
            time.sleep(0.05)
        for sock in (7, 8):
            p.stdin.write(state(sock=sock))
            p.stdin.flush()
            line = line_within(10)
            check(line, "record %d printed while the pipe is open" % sock)
            eq(json.loads(line)["sock"], sock, line)
        p.stdin.close()
        eq(p.wait(10), 0, p.stderr.read())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def socks_of(data, *args):
    r = cli(data, "-j", *args)
    eq(r.returncode, 0, "%r: %s" % (args, r.stderr))
    return [json.loads(x)["sock"] for x in r.stdout.splitlines()]


@test
def port_lists_ranges_and_services():
    """-P takes lists, ranges and /etc/services names; --lport is the
    socket's own port (saddr's), --rport the peer's."""
    data = (state(sock=1, sport=40000, dport=443) +
            state(sock=2, sport=40001, dport=80) +
            state(sock=3, sport=8080, dport=50000) +
            state(sock=4, sport=40002, dport=8081))
    eq(socks_of(data, "-P", "https"), [1], "-P https")
    eq(socks_of(data, "-P", "80,443"), [1, 2], "-P 80,443")
    eq(socks_of(data, "--port", "8000-8100"), [3, 4], "a range")
    eq(socks_of(data, "--lport", "8000-8100"), [3], "--lport")
    eq(socks_of(data, "--rport", "8000-8100"), [4], "--rport")
    eq(socks_of(data, "--rport", "https", "--lport", "40000"), [1],
       "both ends")
    eq(socks_of(data, "-P", "80", "-P", "443"), [1, 2], "-P twice adds")
    eq(socks_of(data, "-P", "http-alt"), [3], "a service name with a dash")


@test
def address_prefixes():
    """--addr takes a prefix, v4 or v6; a v4 prefix also matches
    v4-mapped addresses of IPv6 sockets."""
    v6 = socket.AF_INET6
    data = (state(sock=1, sa="10.1.2.3", da="192.168.0.1") +
            state(sock=2, sa="10.200.0.1", da="172.16.0.1") +
            state(sock=3, fam=v6, sa="fd00::1", da="2001:db8::5") +
            state(sock=4, fam=v6, sa="::ffff:10.1.9.9", da="::ffff:8.8.8.8",
                  flags=1))
    eq(socks_of(data, "--addr", "10.1.0.0/16"), [1, 4], "/16")
    eq(socks_of(data, "--addr", "10.0.0.0/8"), [1, 2, 4], "/8")
    eq(socks_of(data, "--addr", "10.1.2.3/31"), [1], "/31")
    eq(socks_of(data, "--addr", "172.16.0.1"), [2], "one address")
    eq(socks_of(data, "--addr", "2001:db8::/32"), [3], "v6 /32")
    eq(socks_of(data, "--addr", "2001:db9::/32"), [], "another v6 /32")
    eq(socks_of(data, "--addr", "0.0.0.0/0"), [1, 2, 4], "every v4")


@test
def pid_and_comm_follow_the_socket():
    """-p and --comm keep a socket a matching task acted on, with the
    records other contexts make for it later (the handshake's softirq
    transitions, the RST after the close); softirq's pid fields are
    whoever ran and never count."""
    softirq = 1
    data = (state(sock=1, pid=100, comm=b"curl", ts=1000) +
            state(sock=2, pid=200, comm=b"wget", ts=1100) +
            state(sock=1, old=2, new=1, ctx=softirq, pid=7, ts=2000) +
            state(sock=2, old=2, new=1, ctx=softirq, pid=100, ts=2100) +
            state(sock=3, ctx=softirq, pid=100, comm=b"curl", ts=2200) +
            state(sock=1, old=1, new=7, pid=100, comm=b"curl", ts=3000) +
            diag_rec(3, cause=8, sock=1) +
            state(sock=2, old=1, new=7, pid=200, comm=b"wget", ts=4000))
    eq(socks_of(data, "-p", "100"), [1, 1, 1, 1], "-p 100")
    eq(socks_of(data, "--pid", "100,200"), [1, 2, 1, 2, 1, 1, 2], "two")
    eq(socks_of(data, "--comm", "wget"), [2, 2, 2], "--comm wget")
    eq(socks_of(data, "-p", "100", "--comm", "wget"), [], "both must match")
    eq(socks_of(data, "-p", "100", "--diag"), [1], "the RST of its socket")
    conns = data + conn_rec(sock=1, ts=5000) + conn_rec(sock=2, ts=5100)
    eq(socks_of(conns, "conns", "-p", "200"), [2], "conns -p")
    eq(socks_of(conns, "conns", "-p", "200", "-c", "1"), [2],
       "-c counts what is shown")


@test
def state_filter():
    data = (state(sock=1, old=7, new=2) + state(sock=1, old=2, new=1) +
            state(sock=2, old=7, new=10) + diag_rec(3, sock=1))
    eq(socks_of(data, "--state", "established"), [1], "established")
    eq(socks_of(data, "--state", "syn-sent,listen"), [1, 2], "a list")


@test
def time_formats():
    """-T: the text lines' timestamps; JSON has realtime_ns when the
    capture says the writer's clock offset, null when it does not."""
    h = b"TCPTRACE" + struct.pack("<IIq", 1, 24, 1700000000 * 10**9)
    data = h + state(ts=1000) + state(ts=2500001000, sock=43)
    want = {
        "abs": ["22:13:20.000001", "22:13:22.500001"],
        "date": ["2023-11-14 22:13:20.000001", "2023-11-14 22:13:22.500001"],
        "iso": ["2023-11-14T22:13:20.000001+00:00",
                "2023-11-14T22:13:22.500001+00:00"],
        "unix": ["1700000000.000001", "1700000002.500001"],
        "rel": ["0.000000", "2.500000"],
        "delta": ["0.000000", "2.500000"],
    }
    for fmt, stamps in want.items():
        r = run_file(data, "-T", fmt, "-r", "FILE")
        eq(r.returncode, 0, r.stderr)
        eq([x.split(" netns:")[0] for x in r.stdout.splitlines()], stamps,
           fmt)
    r = run_cli([CLI, "-r", "-", "-T", "iso"], input=data,
                       capture_output=True,
                       env=dict(os.environ, TZ="IST-5:30"))
    check(r.stdout.startswith(b"2023-11-15T03:43:20.000001+05:30 "),
          r.stdout)
    j = [json.loads(x) for x in run_file(data, "-j", "-r", "FILE")
         .stdout.splitlines()]
    eq([x["realtime_ns"] for x in j],
       [1700000000 * 10**9 + 1000, 1700000002500001000], "realtime_ns")
    bare = run_file(data[24:], "-j", "-r", "FILE")
    eq([json.loads(x)["realtime_ns"] for x in bare.stdout.splitlines()],
       [None, None], "no offset in the capture: null")
    # -d takes units: past the parser, the device is what is missing
    for d in ("10", "2.5s", "500ms", "5m", "1h"):
        r = run_cli([CLI, "-d", d, "-D", "/nonexistent"],
                           capture_output=True, text=True)
        eq(r.returncode, 1, "-d %s: %s" % (d, r.stderr))


def state_v6(sa, da, sock, ts):
    size = HDR.size + STATE.size
    return hdr(1, size, ts=ts) + STATE.pack(
        sock, 7, 4026531840, 1234, 1235, socket.AF_INET6, 1, 2, 7, 2, 0,
        sa, da, b"x")


@test
def ipv6_text_is_inet_ntop():
    """The CLI's own IPv6 formatter prints what libc's inet_ntop does."""
    import random
    rnd = random.Random(5952)
    words = [0, 0, 0, 0xffff, 1, 0x1234]
    addrs = [bytes(16), bytes(15) + b"\1", bytes(10) + b"\xff\xff" +
             bytes([10, 0, 0, 1]), bytes(12) + bytes([10, 0, 0, 1]),
             bytes(11) + b"\1" + bytes(4)]
    for _ in range(3000):
        if rnd.random() < 0.5:
            ws = [rnd.choice(words) for _ in range(8)]
        else:
            ws = [rnd.getrandbits(16) if rnd.random() < 0.5 else 0
                  for _ in range(8)]
        addrs.append(struct.pack(">8H", *ws))
    data = b"".join(state_v6(a, addrs[-1 - i], i + 1, 1000 + i)
                    for i, a in enumerate(addrs))
    r = cli(data, "-j")
    eq(r.returncode, 0, "exit code")
    lines = r.stdout.splitlines()
    eq(len(lines), len(addrs), "records")
    for i, (a, line) in enumerate(zip(addrs, lines)):
        o = json.loads(line)
        eq(o["saddr"], socket.inet_ntop(socket.AF_INET6, a), "saddr")
        eq(o["daddr"], socket.inet_ntop(socket.AF_INET6, addrs[-1 - i]),
           "daddr")


@test
def durations_round_like_printf():
    """Time in state: "%.3f ms" of the nanoseconds, ties included."""
    gaps = [0, 1, 499, 500, 501, 999, 1500, 2500, 123456789, 1000500,
            1000499, 999999999999, 10**15 + 500, 2**62]
    data, ts = b"", 1000
    for i, g in enumerate(gaps):
        data += state(old=7, new=2, sock=i + 1, ts=ts)
        data += state(old=2, new=1, sock=i + 1, ts=ts + g)
        ts += g + 1
    r = cli(data)
    eq(r.returncode, 0, "exit code")
    got = [ln.split("(")[1] for ln in r.stdout.splitlines() if "(" in ln]
    want = ["%.3f ms in SYN_SENT)" % (g / 1e6) for g in gaps]
    eq(got, want, "durations")


def metrics(data, *args, env=None):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        r = run_cli([CLI, "metrics", "-r", f.name, *args],
                           capture_output=True, text=True,
                           env=None if env is None else
                           dict(os.environ, **env))
    finally:
        os.unlink(f.name)
    eq(r.returncode, 0, "metrics -r: %s" % r.stderr)
    return {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1])
            for ln in r.stdout.splitlines() if ln and ln[0] != "#"}, r.stdout


@test
def metrics_count_what_records_say():
    """tcpwhy metrics -r: the counts, their labels (a cgroup path with a
    quote escaped), and the port bound."""
    with FakeCgroups('/k8s/pod"1') as cg:
        pod = cg.id('/k8s/pod"1')
        data = (diag_rec(4, cause=5, sport=40001, dport=443, flags=1,
                         cg=pod, sock=0) * 2 +
                diag_rec(1, cause=1, reason=b"NETFILTER_DROP", sport=8080,
                         dport=40002, cg=pod, sock=0) +
                diag_rec(7, sport=40003, dport=443, cg=pod) +
                diag_rec(8, cause=10, sport=40003, dport=443, cg=pod) +
                b"".join(diag_rec(3, cause=5, sport=p, dport=40004, cg=pod,
                                  sock=0) for p in range(1000, 1010)) +
                conn_rec(sock=9, old=4, sport=40005, dport=80, cg=pod) +
                lost_rec(3))
        m, text = metrics(data, "--top-ports", "4", env=cg.env)
    lab = 'netns="4026531840",cgroup="/k8s/pod\\"1"'
    eq(m.get('tcptrace_resets_total{%s,port="443",direction="received",'
             'cause="no_socket",suspected_middlebox="true",reason=""}' % lab),
       2.0, "RSTs in, middlebox, service port 443: %s" % text)
    eq(m.get('tcptrace_syns_unanswered_total{%s,port="8080",role="server",'
             'cause="drop_reason",reason="NETFILTER_DROP"}' % lab), 1.0,
       "unanswered SYN with its reason")
    eq(m.get('tcptrace_time_wait_entered_total{%s}' % lab), 1.0, "TIME_WAIT")
    eq(m.get('tcptrace_time_wait_ended_total{%s,cause="expired"}' % lab),
       1.0, "TIME_WAIT expired")
    sent = {k: v for k, v in m.items()
            if k.startswith("tcptrace_resets_total") and "sent" in k}
    ports = {k.split('port="')[1].split('"')[0] for k in sent}
    eq(len(ports), 3, "443 and 8080 took two of 4 port labels, so 2 of "
       "the 10 sent-RST ports got one, the rest other: %s" % sorted(ports))
    check("other" in ports, "other: %s" % sorted(ports))
    eq(sum(sent.values()), 10.0, "every RST counted")
    # its service port 80 came after the 4 labels were taken
    eq(m.get('tcptrace_connections_closed_total{%s,port="other",end="fin"}'
             % lab), 1.0, "a connection closed, port 80 counted as other")
    eq(m.get('tcptrace_sent_bytes_total{%s,port="other"}' % lab), 5.0,
       "bytes")
    eq(m.get("tcptrace_exporter_records_lost_total"), 3.0, "lost reported")
    check("# TYPE tcptrace_handshake_duration_seconds histogram" in text,
          "histogram typed")
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True)
        eq(r.returncode, 0, "promtool: %s%s" % (r.stdout, r.stderr))


@test
def dkms_version_is_the_tree_version():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(top, "VERSION")) as f:
        version = f.read().strip()
    with open(os.path.join(top, "dkms.conf")) as f:
        conf = f.read()
    check('PACKAGE_VERSION="%s"' % version in conf,
          "dkms.conf PACKAGE_VERSION is not %s" % version)
    r = run_cli([CLI, "-V"], capture_output=True, text=True)
    check(version in r.stdout, "tcpwhy -V: " + r.stdout)



OPTS = struct.Struct("<QIIHHHHHBBBBBB8s")
HS = struct.Struct("<QQIHBBHHBBBB16s16s")


def hs_rec(sock, role, sport, dport, syn_ns, done_ns, outcome=1):
    """A handshake record (version 2): the SYN seen at @syn_ns, done at
    @done_ns; role 1 client, 2 server."""
    def opts(seen):
        return OPTS.pack(seen, 0, 0, 1, 0, 1460, 65535, 0, 7, 64, 0, 0, 0,
                         0, b"")
    body = HS.pack(sock, 7, 4026531840, socket.AF_INET, role, outcome, sport,
                   dport, 0, 0, 0, 0,
                   socket.inet_aton("10.0.0.1") + bytes(12),
                   socket.inet_aton("10.0.0.2") + bytes(12)) + \
        opts(syn_ns) + opts(syn_ns + 1) + \
        struct.pack("<QHHHHH6xQ", done_ns, 1460, 1460, 1460, 0, 0, 0)
    return hdr(3, HDR.size + len(body), ver=2, ts=done_ns) + body


@test
def histograms_per_service_port():
    """--hist: log2 histograms of handshake latency (us) and connection
    duration (ms) per service port: a client's remote port, a server's
    local one."""
    us, ms = 1000, 1000000
    data = b""
    # three clients of :443: 100 us, 150 us, 3 ms; they last 5, 6, 300 ms
    for sock, lat, dur in ((1, 100, 5), (2, 150, 6), (3, 3000, 300)):
        t0 = sock * 10**9
        data += hs_rec(sock, 1, 40000 + sock, 443, t0, t0 + lat * us)
        data += conn_rec(sock=sock, ts=t0 + lat * us + dur * ms,
                         sport=40000 + sock, dport=443)
    # a server on :8080 (its local port), and a handshake that failed
    data += hs_rec(9, 2, 8080, 50000, 10**9, 10**9 + 20 * us)
    data += conn_rec(sock=9, ts=10**9 + 20 * us + 1 * ms, sport=8080,
                     dport=50000)
    data += hs_rec(10, 1, 40010, 443, 10**9, 10**9 + 9 * us, outcome=2)
    j = [json.loads(x) for x in cli(data, "--hist", "-j").stdout.splitlines()]
    got = {(h["what"], h["port"], h["role"]):
           [(b["from"], b["to"], b["count"]) for b in h["buckets"]]
           for h in j}
    eq(got[("handshake_latency", 443, "client")],
       [(64, 127, 1), (128, 255, 1), (2048, 4095, 1)], "latency :443")
    eq(got[("handshake_latency", 8080, "server")], [(16, 31, 1)],
       "latency :8080, the server's own port")
    eq(got[("duration", 443, "client")], [(4, 7, 2), (256, 511, 1)],
       "duration :443")
    eq(got[("duration", 8080, "server")], [(0, 1, 1)], "duration :8080")
    eq(len(j), 4, "four histograms: the reset handshake is none")
    # no handshake record: the role from the states, else "other"
    more = (data + state(sock=20, old=7, new=2, sport=40020, dport=443,
                         ts=10**9) +
            conn_rec(sock=20, ts=10**9 + 5 * ms, sport=40020, dport=443) +
            conn_rec(sock=21, ts=10**9, sport=50021, dport=9))
    j = [json.loads(x) for x in cli(more, "--hist", "-j").stdout.splitlines()]
    got = {(h["what"], h["port"], h["role"]): h["count"] for h in j}
    eq(got[("duration", 443, "client")], 4, "a client from CLOSE -> SYN_SENT")
    eq(got[("duration", None, None)], 1, "a role never seen: other")
    text = cli(data, "--hist", "-P", "443").stdout
    check("handshake latency, port 443 (client): 3" in text, text)
    check("\n        64 -> 127        : 1        |" in text, text)
    check("\n     usecs               : count     distribution\n" in text, text)
    check("port 8080" not in text, "-P 443 leaves 8080 out: " + text)
    r = cli(data, "--hist", "--diag")
    eq(r.returncode, 2, "--hist with --diag")
    hs = [json.loads(x) for x in cli(data, "--handshakes", "-j")
          .stdout.splitlines()]
    eq([(h["sock"], h["role"], h["outcome"]) for h in hs],
       [(1, "client", "established"), (2, "client", "established"),
        (3, "client", "established"), (9, "server", "established"),
        (10, "client", "reset")], "the handshakes themselves")


@test
def filters_by_kind_outcome_and_end():
    """--diag=KINDS, --outcome (handshake lines) and --end (conns)."""
    data = (diag_rec(4, sock=1) + diag_rec(1, sock=2) + diag_rec(3, sock=3) +
            hs_rec(4, 1, 40004, 443, 10**9, 10**9 + 1000) +
            hs_rec(5, 1, 40005, 443, 10**9, 10**9 + 1000, outcome=2) +
            state(sock=6, old=2, new=1))
    eq(socks_of(data, "--diag=rst_in"), [1], "--diag=rst_in")
    eq(socks_of(data, "--diag=rst_in,syn_unanswered"), [1, 2], "two kinds")
    eq(socks_of(data, "--diag"), [1, 2, 3], "--diag alone: every kind")
    eq(socks_of(data, "--outcome", "reset"), [1, 2, 3, 5, 6],
       "--outcome keeps the other lines")
    eq(socks_of(data, "--handshakes", "--outcome", "established,reset"),
       [4, 5], "--handshakes --outcome")
    # conns: 7 ended by an RST in, 8 normally
    conns = (diag_rec(4, sock=7) + conn_rec(sock=7) + conn_rec(sock=8))
    eq(socks_of(conns, "conns", "--end", "rst_in"), [7], "--end rst_in")
    eq(socks_of(conns, "conns", "--end", "fin,timeout"), [8], "--end fin")
    for args in (["--diag=nope"], ["--outcome", "ok"], ["--end", "fin"],
                 ["conns", "--diag=rst_in"], ["--hist", "--end", "fin"],
                 ["conns", "--outcome", "reset"], ["conns", "--end", "x"]):
        r = cli(data, *args)
        eq(r.returncode, 2, "usage error for %r" % args)
        check(r.stderr.count("\n") <= 2, r.stderr)


@test
def color_when_a_terminal_reads():
    """--color: what went wrong in red, an established handshake in
    green; auto colours a terminal unless NO_COLOR is set, never a pipe,
    and JSON never."""
    import pty
    data = (diag_rec(4, sock=1) + hs_rec(4, 1, 40004, 443, 10**9, 10**9 + 1000)
            + lost_rec(3))
    red, green, plain = "\x1b[1;31m", "\x1b[1;32m", "\x1b[0m"
    out = cli(data, "--color=always").stdout
    lines = out.splitlines()
    check(red in lines[0] and lines[0].endswith(plain), repr(lines[0]))
    check(green + "established" + plain in lines[1], repr(lines[1]))
    check(red + " *** lost 3 records" in lines[2], repr(lines[2]))
    eq(cli(data).stdout, out.replace(red, "").replace(green, "")
       .replace(plain, ""), "auto on a pipe: the same text, no colour")
    check("\x1b" not in cli(data, "-j", "--color=always").stdout, "JSON")

    def on_a_tty(env):
        m, s = pty.openpty()
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(data)
        try:
            e = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
            p = subprocess.run([CLI, "-r", f.name], stdout=s,
                               stderr=subprocess.PIPE,
                               env=dict(e, TERM="xterm", **env))
            os.close(s)
            got = b""
            while True:
                try:
                    chunk = os.read(m, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                got += chunk
            eq(p.returncode, 0, p.stderr)
            return got.decode(errors="replace")
        finally:
            os.close(m)
            os.unlink(f.name)
    check(red in on_a_tty({}), "auto on a terminal")
    check("\x1b" not in on_a_tty({"NO_COLOR": "1"}), "NO_COLOR")


@test
def top_table_of_a_capture():
    """tcpwhy top -r: the table, once: resets by direction, cause and
    peer, unanswered SYNs by port and reason, latency p50/p99 (nearest
    rank) per port, TIME_WAIT now and entered, lost records."""
    data = (diag_rec(4, cause=5, sock=1) + diag_rec(4, cause=5, sock=2) +
            diag_rec(3, cause=8, sock=3) +
            diag_rec(1, cause=1, reason=b"NETFILTER_DROP", sport=8080,
                     sock=4) +
            diag_rec(7, sock=5) + diag_rec(7, sock=6) + diag_rec(8, sock=5) +
            hs_rec(7, 1, 40007, 443, 10**9, 10**9 + 2000000) +
            hs_rec(8, 1, 40008, 443, 10**9, 10**9 + 4000000) + lost_rec(3))
    r = run_file(data, "top", "-r", "FILE")
    eq(r.returncode, 0, r.stderr)
    for want in ("records, lost 3\n",
                 "\n  in   no_socket            10.0.0.2                    2\n",
                 "\n  out  abort                10.0.0.2                    1\n",
                 "\n  8080   NETFILTER_DROP ",
                 "\n  443    client           2      2.000      4.000\n",
                 "\nTIME_WAIT  now 1, entered 2\n"):
        check(want in r.stdout, "%r in:\n%s" % (want, r.stdout))
    eq(run_file(data, "top", "-r", "FILE", "-P", "8080").stdout.count(
        "10.0.0.2"), 0, "-P 8080: not the resets of port 80")


@test
def schema_catches_what_it_should():
    """The schema check can fail: an unknown field, a wrong type, a
    missing field or version."""
    good = json.loads(cli(state(), "-j").stdout)
    schema.valid(dict(good))
    for bad in (dict(good, surprise=1), dict(good, sport="80"),
                dict(good, schema=2), dict(good, new="ESTABLISHED!"),
                {k: v for k, v in good.items() if k != "realtime_ns"},
                {"type": "nonsense", "schema": 1}):
        try:
            schema.valid(bad)
        except AssertionError:
            continue
        raise AssertionError("schema let through %r" % bad)


@test
def schema_agrees_with_jsonschema():
    """The suites' own schema evaluator (selftests/tcptrace/schema.py,
    fast enough for the guests) and python3-jsonschema give the same
    verdicts: on the lines this suite saw, and on broken ones; and the
    schema file is a valid JSON Schema 2020-12."""
    import jsonschema
    v = jsonschema.Draft202012Validator
    v.check_schema(schema.SCHEMA)
    ref = v(schema.SCHEMA)
    check(len(schema.seen) > 200, "%d lines sampled" % len(schema.seen))
    types = set()
    for obj in schema.seen:
        errs = list(ref.iter_errors(obj))
        check(not errs, "jsonschema rejects what schema.py let through: "
              "%s in %r" % (errs[:1], obj))
        types.add(obj["type"])
    eq(sorted(types), ["conn", "diag", "handshake", "hist", "lost", "state",
                       "time_wait"], "line types seen")
    for obj in schema.seen[:300]:
        for bad in (dict(obj, extra=1), dict(obj, schema=0),
                    dict(obj, type="state" if obj["type"] != "state" else
                         "conn"),
                    {k: x for k, x in obj.items() if k != "schema"}):
            ours = schema.errors(schema.SCHEMA, bad)
            theirs = list(ref.iter_errors(bad))
            check(bool(ours) and bool(theirs),
                  "both reject %r: ours %r, jsonschema %r" %
                  (bad, ours, theirs[:1]))


@test
def every_json_line_was_checked():
    """Run last: the JSON lines of this suite went through the schema."""
    check(schema.checked > 200, "%d lines checked" % schema.checked)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
