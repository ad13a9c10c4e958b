#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A connection storm on loopback, bounded in time: the load under which
the stress tests load and unload the module, overflow its buffer and
exhaust its connection table.

  storm.py [--seconds S] [--mode refused|abort|full|mix] [--procs N]
           [--host 127.0.0.1] [--port P] [--rate R]

refused  connect() to a closed port: SYN, RST (no socket lingers)
abort    connect() to a listener, send, close with SO_LINGER 0 (RST): a
         whole handshake, no TIME_WAIT left behind
full     the same with an orderly close (the client goes to TIME_WAIT)
mix      refused and abort, alternating

--rate R paces each process to R connections a second (default 0: as
fast as it can).

Runs until S seconds passed or SIGTERM/SIGINT; prints the number of
connections made and failed ("connections N errors E") and exits 0.  A
connection that fails otherwise than planned (no port, no memory, a
refused connect() not refused) is counted as an error, not fatal.
"""
import argparse
import errno
import multiprocessing
import os
import signal
import socket
import struct
import threading
import time

LINGER0 = struct.pack("ii", 1, 0)


def acceptor(ls):
    while True:
        try:
            a, _ = ls.accept()
        except OSError:
            return
        try:
            a.recv(64)
        except OSError:
            pass
        a.close()


def worker(args, port, counter, errors, stop):
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    ls = None
    if args.mode in ("abort", "full", "mix"):
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((args.host, 0))
        ls.listen(512)
        lport = ls.getsockname()[1]
        for _ in range(2):
            threading.Thread(target=acceptor, args=(ls,), daemon=True).start()
    deadline = time.monotonic() + args.seconds
    n = err = 0
    due = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        if args.rate > 0:
            # after a stall, go on at the rate, not in a burst to catch up
            due = max(due + 1.0 / args.rate, time.monotonic())
            time.sleep(max(0.0, due - time.monotonic()))
        mode = args.mode
        if mode == "mix":
            mode = "refused" if n % 2 else "abort"
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            if mode == "refused":
                if s.connect_ex((args.host, port)) != errno.ECONNREFUSED:
                    raise OSError("not refused")
            else:
                s.connect((args.host, lport))
                s.sendall(b"x")
                if mode == "abort":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
            n += 1
        except OSError:
            err += 1
            time.sleep(0.001)
        finally:
            s.close()
    with counter.get_lock():
        counter.value += n
    with errors.get_lock():
        errors.value += err
    if ls:
        ls.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--mode", default="mix",
                    choices=("refused", "abort", "full", "mix"))
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9)
    ap.add_argument("--rate", type=float, default=0)
    args = ap.parse_args()
    stop = multiprocessing.Event()
    counter = multiprocessing.Value("q", 0)
    errors = multiprocessing.Value("q", 0)

    def on_signal(sig, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    procs = [multiprocessing.Process(target=worker,
                                     args=(args, args.port, counter, errors,
                                           stop))
             for _ in range(args.procs)]
    for p in procs:
        p.start()
    print("started", flush=True)
    for p in procs:
        while p.is_alive():
            p.join(0.2)
    print("connections %d errors %d" % (counter.value, errors.value),
          flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
