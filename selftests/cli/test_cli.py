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
