#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Host-side tests of the CLI's decoder and error handling, on crafted record
streams fed with `tcptrace -r FILE`: no module needed.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tcptrace"))
from ktap import test, run, check, eq  # noqa: E402

CLI = os.environ.get("TCPTRACE_CLI",
                     os.path.join(os.path.dirname(__file__), "..", "..",
                                  "tools", "tcptrace"))
HDR = struct.Struct("<HHBBHIIQ")
# sock netns_cookie netns_ino pid tid family sport dport old new flags pad[3]
STATE = struct.Struct("<QQIIIHHHBBB3x16s16s16s")


def hdr(typ, size, ver=1, ctx=0, cpu=0, lost=0, ts=1000):
    return HDR.pack(typ, size, ver, ctx, cpu, lost, 0, ts)


def state(old=7, new=2, sock=42, ctx=0, lost=0, ts=1000, fam=socket.AF_INET,
          sport=40000, dport=80, comm=b"curl", extra=b"", ver=1):
    size = HDR.size + STATE.size + len(extra)
    if fam == socket.AF_INET:
        sa = socket.inet_aton("10.0.0.1") + bytes(12)
        da = socket.inet_aton("10.0.0.2") + bytes(12)
    else:
        sa = socket.inet_pton(fam, "fd00::1")
        da = socket.inet_pton(fam, "fd00::2")
    return hdr(1, size, ver=ver, ctx=ctx, lost=lost, ts=ts) + STATE.pack(
        sock, 7, 4026531840, 1234, 1235, fam, sport, dport, old, new, 0,
        sa, da, comm) + extra


# sock netns_cookie ino family kind cause sport dport state flags ttl_seen
# ttl_expected saddr daddr duration count reason_code reason
DIAG = struct.Struct("<QQIHBBHHBBBB16s16sQII32s")


def diag_rec(kind, cause=0, state=0, flags=0, ttl=(0, 0), reason=b"",
             duration=0, count=0, sport=80, dport=40000):
    size = HDR.size + DIAG.size
    return hdr(4, size) + DIAG.pack(
        7, 1, 4026531840, socket.AF_INET, kind, cause, sport, dport, state,
        flags, ttl[0], ttl[1], socket.inet_aton("10.0.0.1") + bytes(12),
        socket.inet_aton("10.0.0.2") + bytes(12), duration, count, 0, reason)


def lost_rec(count, cpu=1):
    return hdr(2, HDR.size + 8, cpu=cpu) + struct.pack("<Q", count)


def cli(data, *args):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
    try:
        return subprocess.run([CLI, "-r", f.name, *args], capture_output=True,
                              text=True)
    finally:
        os.unlink(f.name)


@test
def state_record_sizes_match_abi():
    eq(HDR.size, 24, "header size")
    eq(HDR.size + STATE.size, 112, "state record size")


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
          "NETFILTER_DROP (a firewall rule)" in r.stdout, r.stdout)
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
    r = subprocess.run([CLI, "-r", "-"], input=hdr + state(ts=1000),
                       capture_output=True, env=dict(os.environ, TZ="UTC"))
    eq(r.returncode, 0, "capture with offset")
    check(r.stdout.startswith(b"22:13:20.000001 "), "time of day: %r" % r.stdout)
    for bad in (8, 20, 4096):
        h = b"TCPTRACE" + struct.pack("<IIq", 1, bad, 0)
        eq(cli(h + state()).returncode, 3, "header length %d" % bad)


@test
def unknown_record_type_skipped():
    future = hdr(77, 40) + bytes(16)
    r = cli(future + state(), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    eq(len(r.stdout.splitlines()), 1, "unknown type skipped")


@test
def newer_state_layout_decoded_by_prefix():
    r = cli(state(ver=2, extra=bytes(16)) + state(), "-j")
    eq(r.returncode, 0, "rc " + r.stderr)
    eq(len(r.stdout.splitlines()), 2, "two records")


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
           state(ver=0)]                     # version 0 does not exist
    for data in bad:
        r = cli(data)
        eq(r.returncode, 3, "exit code for %r" % data[:8])
        check("malformed record" in r.stderr, r.stderr)


@test
def missing_device_is_explained():
    r = subprocess.run([CLI, "-D", "/nonexistent/tcptrace"],
                       capture_output=True, text=True)
    eq(r.returncode, 1, "rc")
    check("is the tcptrace module loaded" in r.stderr, r.stderr)


@test
def not_a_tcptrace_device_is_explained():
    r = subprocess.run([CLI, "-D", "/dev/null"], capture_output=True,
                       text=True)
    eq(r.returncode, 3, "rc")
    check("not a tcptrace device" in r.stderr, r.stderr)


@test
def bad_usage():
    for args in (["-p", "70000"], ["--addr", "nope"], ["-c", "0"],
                 ["-d", "-1"], ["--bogus"], ["extra"]):
        r = subprocess.run([CLI, *args], capture_output=True, text=True)
        eq(r.returncode, 2, "usage error for %r" % args)


@test
def filters_apply_to_files():
    data = state(sport=1, dport=2, sock=1) + state(sport=3, dport=4, sock=2)
    r = cli(data, "-j", "-p", "4")
    eq([json.loads(x)["sock"] for x in r.stdout.splitlines()], [2], "-p 4")
    r = cli(data + state(fam=socket.AF_INET6, sock=3), "-j", "-6")
    eq([json.loads(x)["sock"] for x in r.stdout.splitlines()], [3], "-6")
    r = cli(data, "-j", "-c", "1")
    eq(len(r.stdout.splitlines()), 1, "-c 1")


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


@test
def dkms_version_is_the_tree_version():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(top, "VERSION")) as f:
        version = f.read().strip()
    with open(os.path.join(top, "dkms.conf")) as f:
        conf = f.read()
    check('PACKAGE_VERSION="%s"' % version in conf,
          "dkms.conf PACKAGE_VERSION is not %s" % version)
    r = subprocess.run([CLI, "-V"], capture_output=True, text=True)
    check(version in r.stdout, "tcptrace -V: " + r.stdout)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
