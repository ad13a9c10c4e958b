#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Load/unload cycles under a connection storm, run as root in a guest
(selftests/stress/run.sh, booted with slub_debug=FZPU): each cycle loads
the module with other parameters, starts a reader of some kind (the CLI,
a raw read() or poll() loop, a stopped process, none), checks that rmmod
is refused at once while the device is open, ends the reader (SIGKILL,
SIGTERM, SIGINT) and unloads.  Connections keep coming the whole time, so
probes and hooks fire while they are registered and unregistered.
A hook or probe left registered would run freed module code at the next
packet or transition: the storm goes on through every unload.
Afterwards: nothing of the module left (/proc/modules, the device), the
kernel log clean, every slab cache valid, and
memory (unreclaimable slab, vmalloc, kmalloc caches, MemFree) back to the
baseline within a tolerance.
"""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stresslib import *  # noqa: E402,F401,F403
from ktap import test, run  # noqa: E402

RNG = random.Random()

PARAMS = ["", "buf_size=8192", "conn_table_size=64",
          "hs_timeout=1 syn_timeout_ms=100",
          "buf_size=1048576 conn_table_size=65536"]
READERS = ["cli-kill", "read-kill", "poll-term", "stopped-kill", "none",
           "cli-int"]

PY_READ = ("import os; fd = os.open('%s', os.O_RDONLY); print('open', "
           "flush=True)\nwhile True: os.read(fd, 65536)" % DEV)
PY_POLL = ("import os, select; fd = os.open('%s', os.O_RDONLY | "
           "os.O_NONBLOCK); print('open', flush=True)\nwhile True:\n"
           " select.select([fd], [], [])\n try: os.read(fd, 4096)\n"
           " except BlockingIOError: pass" % DEV)


def start_reader(kind):
    if kind == "none":
        return None
    if kind.startswith(("cli", "stopped")):
        return Tracer().p                # holds the device when it returns
    p = subprocess.Popen([sys.executable, "-c",
                          PY_READ if kind.startswith("read") else PY_POLL],
                         stdout=subprocess.PIPE, text=True)
    eq(p.stdout.readline().strip(), "open", "reader opened the device")
    return p


def end_reader(kind, p):
    if kind == "stopped-kill":
        p.send_signal(signal.SIGSTOP)
        time.sleep(0.1)
        p.kill()
    elif kind.endswith("-kill"):
        p.kill()
    elif kind.endswith("-term"):
        p.terminate()
    else:
        p.send_signal(signal.SIGINT)
    p.wait(TIMEOUT)


@test
def load_unload_cycles_under_storm():
    cycles = size(12, 100)
    unload()
    # warm-up: what a storm and one load leave cached belongs to the
    # baseline
    storm = Storm(mode="mix")
    load()
    time.sleep(1)
    unload()
    storm.stop()
    before = MemSnap()
    mark = LogMark()
    storm = Storm(mode="mix")
    refused_ms = []
    unload_ms = []
    for i in range(cycles):
        params = PARAMS[i % len(PARAMS)]
        kind = READERS[i % len(READERS)]
        load(params)
        reader = start_reader(kind)
        time.sleep(RNG.uniform(0.1, 0.6))
        if reader:
            t0 = time.time()
            r = sh("rmmod tcptrace", False)
            refused_ms.append((time.time() - t0) * 1000)
            check(r.returncode != 0, "cycle %d: rmmod refused while %s "
                  "holds the device" % (i, kind))
            check("in use" in r.stderr, "rmmod says why: %r" % r.stderr)
            check(os.path.exists(DEV), "device still there")
            end_reader(kind, reader)
        t0 = time.time()
        sh("rmmod tcptrace")
        unload_ms.append((time.time() - t0) * 1000)
        check(not os.path.exists("/sys/module/tcptrace"),
              "cycle %d: unloaded" % i)
    n = storm.stop()
    diag("%d cycles, %d connections meanwhile; refused rmmod took max "
         "%.0f ms, unload max %.0f ms" % (cycles, n, max(refused_ms),
                                          max(unload_ms)))
    check(max(refused_ms) < 5000, "a refused rmmod returns at once")
    check(n > cycles, "the storm ran")
    # nothing of the module left
    with open("/proc/modules") as f:
        mods = f.read()
    check("tcptrace" not in mods, "tcptrace gone from /proc/modules")
    check(not os.path.exists(DEV), "device gone")
    time.sleep(2)
    after = MemSnap()
    check_memory_back(before, after, "after %d cycles" % cycles)
    check_kernel(mark, "load/unload cycles")


@test
def load_failures_unwind():
    """Parameters out of range are refused; the largest allowed (256 MiB
    per CPU, a million table entries) loads and unloads, or fails with
    ENOMEM where the guest is too small; nothing is left behind."""
    unload()
    before = MemSnap()
    mark = LogMark()
    tried = []
    big = ["buf_size=268435456 conn_table_size=1048576"]
    if not QUICK:
        big += ["conn_table_size=1048576", "buf_size=268435456"]
    bad = ["buf_size=1 conn_table_size=1048576", "conn_table_size=63",
           "hs_timeout=0", "syn_timeout_ms=99", "hs_timeout=3601",
           "conn_table_size=4294967295", "buf_size=-1"]
    for params in big + bad:
        r = sh("insmod %s %s" % (KO, params), False)
        tried.append("%s: %s" % (params, "loaded" if r.returncode == 0 else
                                 r.stderr.strip().split(":")[-1].strip()))
        if r.returncode == 0:
            check(params in big, "%s refused" % params)
            refused("127.0.0.1", new_port())
            sh("rmmod tcptrace")
        elif params in big:
            check("Cannot allocate memory" in r.stderr,
                  "%s: loads or ENOMEM: %s" % (params, r.stderr))
        check(not os.path.exists("/sys/module/tcptrace"), "not loaded")
    diag("\n".join(tried))
    after = MemSnap()
    check_memory_back(before, after, "after failed loads")
    check_kernel(mark, "failed loads")


# One process for every load: started once (a Python start-up takes half
# a minute under the debug kernel with kmemleak, longer than a load), it
# tries to open the device from "g" on stdin until "s", then prints how
# many opens got in; so it is trying during the whole load, not after it.
OPENER = ("import os, select, sys, time\n"
          "while os.read(0, 1) == b'g':\n"
          "  n = 0\n"
          "  print('trying', flush=True)\n"
          "  while not select.select([0], [], [], 0)[0]:\n"
          "    try: fd = os.open('%s', os.O_RDONLY | os.O_NONBLOCK)\n"
          "    except OSError: continue\n"
          "    n += 1\n"
          "    try: os.read(fd, 4096)\n"
          "    except OSError: pass\n"
          "    time.sleep(0.05); os.close(fd)\n"
          "  os.read(0, 1)\n"
          "  print(n, flush=True)\n" % DEV)


def racing_opener(op, action):
    """@action() while @op (OPENER) keeps trying to open the device: the
    action's result and the number of opens that got in."""
    op.stdin.write("g")
    op.stdin.flush()
    eq(op.stdout.readline().strip(), "trying", "the opener is trying")
    r = action()
    op.stdin.write("s")
    op.stdin.flush()
    return r, int(op.stdout.readline())


@test
def init_failures_with_racing_opener():
    """The load fails at each of its five steps in turn (fail_init_step),
    under a storm, while a process keeps trying to open the device: no
    failed load ever lets it in (the device comes last, when nothing can
    fail any more), each unwinds completely, and a load after them works
    and lets it in."""
    unload()
    before = MemSnap()
    mark = LogMark()
    storm = Storm(mode="mix")
    op = subprocess.Popen([sys.executable, "-c", OPENER],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True)
    try:
        for step in range(1, 6):
            r, opens = racing_opener(op, lambda: sh(
                "insmod %s fail_init_step=%d" % (KO, step), False))
            check(r.returncode != 0 and "Cannot allocate memory" in r.stderr,
                  "step %d: the load fails with ENOMEM (%s)" % (
                      step, r.stderr.strip()))
            eq(opens, 0, "step %d: no open() got in" % step)
            check(not os.path.exists("/sys/module/tcptrace"),
                  "step %d: nothing loaded" % step)
            check(not os.path.exists(DEV), "step %d: no device" % step)

        def good_load():
            sh("insmod %s" % KO)
            time.sleep(SLOWDOWN)
        _, opens = racing_opener(op, good_load)
        check(opens > 0, "a good load lets the opener in (%d opens)" % opens)
        unload()
    finally:
        op.stdin.close()
        op.wait(TIMEOUT)
        storm.stop()
    after = MemSnap()
    check_memory_back(before, after, "after failed loads")
    check_kernel(mark, "failed loads with a racing opener")


@test
def namespaces_die_in_time_wait_then_unload():
    """Namespaces are deleted while their sockets sit in TIME_WAIT (the
    table holds entries for them), a storm goes on in others; their
    entries go with them, and the module unloads cleanly afterwards."""
    load()
    mark = LogMark()
    client = ("import socket\n"
              "ls = socket.socket(); ls.bind(('127.0.0.1', 0)); ls.listen(64)\n"
              "p = ls.getsockname()[1]\n"
              "for _ in range(%d):\n"
              "  c = socket.create_connection(('127.0.0.1', p))\n"
              "  a, _ = ls.accept(); c.close(); a.close()\n")
    # 8 under the debug kernel: making 30 there took longer than
    # TIME_WAIT lasts (60 s), and the first had left it before ss looked
    n = scaled(size(30, 300), 8)
    storm = Storm(mode="mix")
    try:
        fd = open_dev()
        try:
            in_use0 = stats(fd)["conn_in_use"]
            # 2 under the debug kernel: a namespace there takes 3 minutes
            for i in range(scaled(size(3, 10), 2)):
                ns = "tttw%d" % i
                sh("ip netns del %s" % ns, False)
                sh("ip netns add %s && ip -n %s link set lo up" % (ns, ns))
                sh("ip netns exec %s python3 -c \"%s\"" % (ns, client % n))
                tw = sh("ip netns exec %s ss -Htan state time-wait" % ns)
                check(len(tw.stdout.splitlines()) >= n // 2,
                      "%s: sockets in TIME_WAIT" % ns)
                grown = stats(fd)["conn_in_use"]
                check(grown >= in_use0 + n // 2,
                      "%s: the table holds them (%d -> %d)" % (ns, in_use0,
                                                               grown))
                sh("ip netns del %s" % ns)
                drain(fd, Tally())
            # cleanup_net runs from a workqueue: give it a moment
            deadline = time.time() + 20 * SLOWDOWN
            while stats(fd)["conn_in_use"] > in_use0 + n // 2:
                check(time.time() < deadline, "dead namespaces' entries purged")
                drain(fd, Tally())
                time.sleep(0.2)
        finally:
            os.close(fd)
    finally:
        storm.stop()
    unload()
    check(not os.path.exists("/sys/module/tcptrace"), "unloaded")
    check_kernel(mark, "namespaces dying in TIME_WAIT")


if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv[1:], after_each=kill_tracers))
    finally:
        unload()
