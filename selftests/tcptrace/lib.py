# SPDX-License-Identifier: GPL-2.0
"""Helpers shared by the guest tests: module loading, the CLI as a
background tracer, the device's ioctls."""
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

from ktap import check, eq

KO = os.environ["TCPTRACE_KO"]
CLI = os.environ["TCPTRACE_CLI"]
DEV = "/dev/tcptrace"
SO_COOKIE = 57
TIMEOUT = 60

# From module/uapi/tcptrace.h
IOC_MAGIC = 0xE7
READ_MIN = 256
HDR = struct.Struct("<HHBBHIIQ")        # type size version ctx cpu lost rsvd ts


def ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (IOC_MAGIC << 8) | nr


IOC_VERSION = ioc(2, 1, 4)
IOC_STATS = ioc(3, 2, 88)
IOC_RESET = ioc(0, 3, 0)
IOC_SET_TYPES = ioc(1, 4, 4)

_port = [20000]


def new_port():
    _port[0] += 1
    return _port[0]


def sh(cmd, check_rc=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check_rc and r.returncode:
        raise AssertionError("%s: rc %d: %s" % (cmd, r.returncode, r.stderr))
    return r


def load(params=""):
    unload()
    sh("insmod %s %s" % (KO, params))
    deadline = time.time() + 10
    while not os.path.exists(DEV):
        check(time.time() < deadline, "%s did not appear" % DEV)
        time.sleep(0.05)


def unload():
    if os.path.exists("/sys/module/tcptrace"):
        sh("rmmod tcptrace")


def cookie(s):
    return struct.unpack("<Q", s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]


def netns_ino(path="/proc/self/ns/net"):
    return os.stat(path).st_ino


_live = []


def kill_tracers():
    """After each test: no tracer outlives it, even a failed one."""
    while _live:
        t = _live.pop()
        if t.p.poll() is None:
            t.p.kill()
            t.p.wait()


class Tracer:
    """The CLI in JSON mode, in the background, output to a file."""

    def __init__(self, *args, prefix=()):
        self.out = tempfile.NamedTemporaryFile("w+", suffix=".json",
                                               delete=False)
        self.err = tempfile.NamedTemporaryFile("w+", suffix=".err",
                                               delete=False)
        self.p = subprocess.Popen([*prefix, CLI, "-j", *args], stdout=self.out,
                                  stderr=self.err)
        _live.append(self)
        # wait until the CLI holds the device open
        deadline = time.time() + TIMEOUT
        while not self._holds_device():
            check(self.p.poll() is None, "tracer exited: %s" % self.errors())
            check(time.time() < deadline, "tracer never opened the device")
            time.sleep(0.05)

    @staticmethod
    def _holds_device():
        """Does any process hold the device (ours may be a child of
        ip netns exec)?  There is one reader at a time."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                for fd in os.listdir("/proc/%s/fd" % pid):
                    # another mount namespace may see it under a prefix
                    if os.readlink("/proc/%s/fd/%s" % (pid, fd)).endswith(DEV):
                        return True
            except OSError:
                pass
        return False

    def errors(self):
        self.err.seek(0)
        return self.err.read()

    def lines(self):
        self.out.flush()
        with open(self.out.name) as f:
            text = f.read()
        # a line still being written is not a record yet
        lines = text.split("\n")[:-1]
        return [json.loads(x) for x in lines if x.strip()]

    def wait_for(self, pred, what):
        deadline = time.time() + TIMEOUT
        while True:
            if any(pred(r) for r in self.lines()):
                return
            if self.p.poll() is not None:
                break
            check(time.time() < deadline, "timed out waiting for " + what)
            time.sleep(0.1)
        check(any(pred(r) for r in self.lines()),
              "tracer exited before " + what)

    def stop(self, marker=("127.0.0.1", None)):
        """Make a refused connection to a closed port and stop once the
        tracer has printed it: everything before it has been read."""
        if marker is not None:
            host, port = marker
            port = port or new_port()
            refused(host, port)
            # its state record, or with --handshakes its handshake record
            self.wait_for(lambda r: r.get("dport") == port and
                          (r.get("new") == "CLOSE" or
                           r.get("role") == "client" or
                           r.get("diag") == "rst_in" or
                           r.get("type") == "conn"),
                          "marker on port %d" % port)
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(TIMEOUT)
        eq(rc, 0, "tracer exit code (stderr: %s)" % self.errors())
        return self.lines()


def refused(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("connect to %s:%d was not refused" % (host, port))
    finally:
        s.close()


def read_records(buf):
    off, out = 0, []
    while off < len(buf):
        typ, size, ver, ctx, cpu, lost, _, ts = HDR.unpack_from(buf, off)
        check(size >= HDR.size and size % 8 == 0 and off + size <= len(buf),
              "whole record at %d (size %d of %d)" % (off, size, len(buf)))
        out.append((typ, size, lost, buf[off:off + size]))
        off += size
    return out


def stats(fd):
    b = bytearray(88)
    fcntl.ioctl(fd, IOC_STATS, b)
    (abi, ncpu, _, produced, lost, delivered, buffered, conn_capacity,
     conn_in_use, conn_evicted, conn_timeouts, malformed) = struct.unpack(
        "<IIQQQQQQQQQQ", b)
    return dict(abi=abi, produced=produced, lost=lost, delivered=delivered,
                buffered=buffered, conn_capacity=conn_capacity,
                conn_in_use=conn_in_use, conn_evicted=conn_evicted,
                conn_timeouts=conn_timeouts, malformed=malformed)


