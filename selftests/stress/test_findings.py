#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Reproducers of open findings about the module, run as root in a guest:
  selftests/stress/run.sh [--kernel K] test_findings
Not in the default suites while they fail (see Documentation/security.rst,
"Known weaknesses"); each passes once its finding is fixed.

no_premature_timeouts: are handshakes reported as timed out before
hs_timeout?  (yes, with 2 vCPUs: run with --smp 2)
"""
import fcntl
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stresslib import *  # noqa: E402,F401,F403
from ktap import test, run  # noqa: E402


@test
def no_premature_timeouts():
    """Refused connects from every CPU for 20 s into a buffer that holds
    them all: each connect is exactly 7 records, both handshake records
    'reset', and nothing times out (hs_timeout is 180 s).  The periodic
    scan takes its 'now' once, then walks the table while other CPUs add
    entries: for an entry born after that 'now', now - born_ns wraps
    around and the entry is reported as timed out at once (client:
    'timeout' with no socket cookie, then 'failed'; server: 'timeout'
    instead of 'reset')."""
    load("buf_size=67108864")
    mark = LogMark()
    fd = open_dev()
    recs = []
    try:
        drain(fd, Tally())
        fcntl.ioctl(fd, IOC_RESET, 0)
        storm = Storm(mode="refused", procs=NCPUS)
        t_end = time.time() + size(20, 120)
        while time.time() < t_end:
            try:
                recs += walk(os.read(fd, 1 << 20))
            except BlockingIOError:
                time.sleep(0.05)
        n = storm.stop()
        time.sleep(1)
        while True:
            try:
                recs += walk(os.read(fd, 1 << 20))
            except BlockingIOError:
                break
        s = stats(fd)
    finally:
        os.close(fd)
    outcomes = {}
    odd = []
    for typ, cpu, lost, raw in recs:
        if typ == 3:
            sock, = struct.unpack_from("<Q", raw, 24)
            role, outcome, sport, dport = struct.unpack_from("<BBHH", raw,
                                                             46)
            outcomes[(role, outcome)] = outcomes.get((role, outcome), 0) + 1
            if outcome != 2 and len(odd) < 10:
                odd.append("cpu %d role %d outcome %d %d->%d sock %d" % (
                    cpu, role, outcome, sport, dport, sock))
    diag("%d refused connects on %d CPUs: %d records, conn_timeouts %d, "
         "handshakes by (role, outcome) %r" % (n, NCPUS, len(recs),
                                               s["conn_timeouts"], outcomes))
    if odd:
        diag("\n".join(odd))
    eq(s["lost"], 0, "nothing lost (64 MiB buffer)")
    eq(s["conn_timeouts"], 0, "no handshake timed out within %d s" %
       size(20, 120))
    eq(outcomes, {(1, 2): n, (2, 2): n}, "every handshake: reset")
    eq(len(recs), 7 * n, "7 records per refused connect")
    check_kernel(mark, "premature timeouts")


if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv[1:], after_each=kill_tracers))
    finally:
        unload()
