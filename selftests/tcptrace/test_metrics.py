#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
tcpwhy metrics, end to end through Debian's own Prometheus, run as
root inside a guest by selftests/run.sh: the exporter serves, Prometheus
scrapes it every second, a known workload runs (connections, refused
ones, a SYN a firewall drops, an RST a router forges), and the values
are read back from Prometheus' HTTP API, not from the exporter.  Also:
the example rules pass promtool, the exposition passes promtool's lint,
and a storm of ports stays within --top-ports.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import test, run, check, eq, diag  # noqa: E402
from lib import (load, unload, new_port, sh, Net, CLI, KVER,  # noqa: E402
                 kill_tracers, ns_py, nft, TIMEOUT, LISTENER)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "packaging/examples/prometheus/tcptrace.rules.yml")
EXPORTER = "127.0.0.1:19983"
# Debian's prometheus and promtool, extracted by run.sh (not installed)
if os.environ.get("TCPTRACE_PROMETHEUS"):
    os.environ["PATH"] = os.environ["TCPTRACE_PROMETHEUS"] + ":" + \
        os.environ["PATH"]
PROM = "127.0.0.1:19090"


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def tail(path):
    with open(path) as f:
        return f.read()[-2000:]


class Stack:
    """The exporter and a Prometheus scraping it every second."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="prom")
        # their stderr goes to files: a pipe nobody reads could fill
        self.exp_log = os.path.join(self.dir, "exporter.log")
        self.prom_log = os.path.join(self.dir, "prometheus.log")
        self.args = args
        self.start_exporter()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "rule_files: [%s]\n"
                    "scrape_configs:\n  - job_name: tcptrace\n"
                    "    static_configs:\n      - targets: ['%s']\n"
                    % (RULES, EXPORTER))
        with open(self.prom_log, "w") as log:
            self.prom = subprocess.Popen(
                ["prometheus", "--config.file=" + cfg,
                 "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=" + PROM, "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 6 * TIMEOUT
        while True:
            if self.prom.poll() is not None:
                check(False, "prometheus exited: %s" % tail(self.prom_log))
            try:
                if http_get("http://%s/-/ready" % PROM)[0] == 200 and \
                        self.value('up{job="tcptrace"}') == 1:
                    break
            except OSError:
                pass
            check(time.time() < deadline, "prometheus never scraped")
            time.sleep(0.5)
        diag("prometheus scrapes")

    def start_exporter(self):
        with open(self.exp_log, "a") as log:
            self.exp = subprocess.Popen([CLI, "metrics", "--listen",
                                         EXPORTER, *self.args], stderr=log)
        deadline = time.time() + TIMEOUT
        while True:
            if self.exp.poll() is not None:
                check(False, "exporter exited: %s" % tail(self.exp_log))
            try:
                if http_get("http://%s/metrics" % EXPORTER)[0] == 200:
                    break
            except OSError:
                pass
            check(time.time() < deadline, "exporter never served")
            time.sleep(0.2)

    def query(self, q, at=None):
        url = "http://%s/api/v1/query?query=%s" % (PROM,
                                                   urllib.parse.quote(q))
        if at is not None:
            url += "&time=%.3f" % at
        st, body = http_get(url)
        r = json.loads(body)
        eq(r["status"], "success", "query %s" % q)
        return r["data"]["result"]

    def value(self, q, at=None):
        """The one value of @q (a sum, say), 0 when it has no series."""
        res = self.query(q, at)
        check(len(res) <= 1, "%s: one series: %r" % (q, res))
        return float(res[0]["value"][1]) if res else 0.0

    def scraped(self):
        """Wait for two scrapes after now: the exporter's counts as of
        now are in Prometheus."""
        t0 = time.time()
        deadline = t0 + TIMEOUT
        while True:
            last = self.value('timestamp(up{job="tcptrace"})')
            if last > t0 + 1.0:
                return
            check(time.time() < deadline, "no scrape after the workload")
            time.sleep(0.5)

    def stop(self):
        for p in (self.prom, self.exp):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


SERVER = r"""
import socket, sys
ls = socket.socket(); ls.bind(("0.0.0.0", %d)); ls.listen(64)
print("ready", flush=True)
for i in range(%d):
    a, _ = ls.accept()
    a.recv(10)
    a.close()
print("done", flush=True)
sys.stdin.readline()
"""

MIDDLEBOX_SERVER = r"""
import socket, sys
ls = socket.socket(); ls.bind(("0.0.0.0", %d)); ls.listen()
print("ready", flush=True)
a, _ = ls.accept()
a.settimeout(10)
try:
    a.recv(100)
except Exception:
    pass
sys.stdin.readline()
"""


@test
def prometheus_counts_a_known_workload():
    """N connections, M refused, one SYN a firewall drops, one RST a
    router forges, one close with SO_LINGER 0: Prometheus holds exactly
    those counts."""
    check(shutil.which("prometheus"), "prometheus fetched (selftests/run.sh)")
    load()
    kill_tracers()
    n_ok, n_refused = 5, 3
    p_ok, p_refused, p_drop, p_mb, p_ab = (new_port() for _ in range(5))
    with Net(router=True) as n:
        nft("tts", "table inet fw {\n chain in {\n"
            "  type filter hook input priority 0;\n"
            "  tcp dport %d tcp flags syn drop\n }\n}" % p_drop)
        nft("ttr", "table inet mb {\n chain forward {\n"
            "  type filter hook forward priority 0;\n"
            "  ip daddr %s tcp dport %d tcp flags & psh == psh"
            " reject with tcp reset\n }\n}" % (n.server, p_mb))
        sh("ip netns exec ttc sysctl -qw net.ipv4.tcp_syn_retries=1")
        srv = n.bg("tts", SERVER % (p_ok, n_ok))
        mb = n.bg("tts", MIDDLEBOX_SERVER % p_mb)
        drop = n.bg("tts", LISTENER % p_drop)
        ab = n.bg("tts", MIDDLEBOX_SERVER % p_ab)
        diag("servers ready")
        s = Stack()
        try:
            t0 = time.time()
            ns_py("ttc", "import socket, struct\n"
                  "for i in range(%d):\n"
                  "    c = socket.create_connection(('%s', %d))\n"
                  "    c.sendall(b'x'); c.recv(10); c.close()\n"
                  "for i in range(%d):\n"
                  "    c = socket.socket()\n"
                  "    assert c.connect_ex(('%s', %d)) != 0\n"
                  "    c.close()\n"
                  "c = socket.socket()\n"
                  "assert c.connect_ex(('%s', %d)) != 0\n"
                  "c = socket.create_connection(('%s', %d))\n"
                  "c.sendall(b'GET /\\r\\n')\n"
                  "try:\n    c.recv(10)\nexcept ConnectionResetError:\n"
                  "    print('reset')\n"
                  "c = socket.create_connection(('%s', %d))\n"
                  "c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,\n"
                  "             struct.pack('ii', 1, 0))\n"
                  "c.close()\n"
                  % (n_ok, n.server, p_ok, n_refused, n.server, p_refused,
                     n.server, p_drop, n.server, p_mb, n.server, p_ab))
            diag("workload ran")
            eq(srv.stdout.readline().strip(), "done", "server accepted all")

            def inc(q):
                return s.value("sum(%s)" % q) - s.value("sum(%s)" % q, t0)

            def hs(port, role):
                return ('tcptrace_handshakes_total{port="%d",role="%s",'
                        'outcome="established"}' % (port, role))

            cause = 'cause="drop_reason",reason="NETFILTER_DROP"' \
                if KVER >= (5, 17) else 'cause="unanswered"'
            want = [
                (hs(p_ok, "server"), n_ok, "server handshakes"),
                (hs(p_ok, "client"), n_ok, "client handshakes"),
                ('tcptrace_handshake_duration_seconds_count{port="%d",'
                 'role="server"}' % p_ok, n_ok, "latency histogram count"),
                ('tcptrace_connections_closed_total{port="%d",end="fin"}'
                 % p_ok, 2 * n_ok, "closed with FIN, both ends"),
                ('tcptrace_connection_duration_seconds_count{port="%d"}'
                 % p_ok, 2 * n_ok, "duration histogram count"),
                ('tcptrace_sent_bytes_total{port="%d"}' % p_ok, n_ok,
                 "one byte sent per connection (the server sent none)"),
                ('tcptrace_resets_total{port="%d",direction="sent",'
                 'cause="no_socket"}' % p_refused, n_refused,
                 "RSTs sent for the closed port"),
                ('tcptrace_resets_total{port="%d",direction="received"}'
                 % p_refused, n_refused, "RSTs the client accepted"),
                ('tcptrace_connections_closed_total{port="%d",'
                 'end="refused"}' % p_refused, n_refused, "refused ends"),
                ('tcptrace_syns_unanswered_total{port="%d",role="server",'
                 '%s}' % (p_drop, cause), 1, "the SYN the firewall dropped"),
                ('tcptrace_syns_unanswered_total{port="%d",role="client"}'
                 % p_drop, 1, "the client's SYN never answered"),
                ('tcptrace_resets_total{port="%d",direction="received",'
                 'suspected_middlebox="true"}' % p_mb, 1,
                 "the forged RST, counted apart"),
                ('tcptrace_resets_total{port="%d",direction="sent",'
                 'cause="reject"}' % p_mb, 1, "the router's rule made it"),
                # the abort's RST comes after its close: still "aborted"
                ('tcptrace_connections_closed_total{port="%d",'
                 'end="aborted"}' % p_ab, 1, "the SO_LINGER 0 close"),
                ('tcptrace_connections_closed_total{port="%d",'
                 'end="rst_in"}' % p_ab, 1, "the end that got its RST"),
                ('tcptrace_connections_closed_total{port="%d",end="fin"}'
                 % p_ab, 0, "no FIN end on the aborted port"),
            ]
            # closes and diagnoses come later on a slow guest: wait for
            # all, then show each
            deadline = time.time() + TIMEOUT
            while any(inc(q) != v for q, v, _ in want) and \
                    time.time() < deadline:
                time.sleep(1)
            for q, v, what in want:
                eq(inc(q), v, what)
            eq(s.value("sum(tcptrace_exporter_records_lost_total)"), 0,
               "nothing lost")
            # the example rules, evaluated by this Prometheus
            deadline = time.time() + TIMEOUT
            while s.value('tcptrace:syns_unanswered:increase5m{port="%d"}'
                          % p_drop) != 1:
                check(time.time() < deadline,
                      "the recording rule counts the dropped SYN once")
                time.sleep(1)
            while not s.query('ALERTS{alertname="TcptraceForgedResets",'
                              'port="%d"}' % p_mb):
                check(time.time() < deadline, "the forged-RST alert fired")
                time.sleep(1)
        finally:
            s.stop()
            for p in (srv, mb, drop, ab):
                p.kill()
    unload()


def refuse(port, n):
    sh("python3 -c \"import socket\nfor i in range(%d):\n"
       "  s = socket.socket(); s.connect_ex(('127.0.0.1', %d)); s.close()\""
       % (n, port))


@test
def restart_resets_counters_and_loses_nothing():
    """The exporter restarts while no reader is open: what the module
    made meanwhile is counted by the new one, whose counters start again
    (a new start time, as Prometheus expects of a restart)."""
    load()
    kill_tracers()
    p1, p2 = new_port(), new_port()
    s = Stack()
    try:
        refuse(p1, 3)
        s.scraped()
        q1 = 'sum(tcptrace_resets_total{port="%d",direction="sent"})'
        eq(s.value(q1 % p1), 3, "before the restart")
        start1 = s.value("tcptrace_exporter_start_time_seconds")
        s.exp.terminate()
        eq(s.exp.wait(10), 0, "the exporter exits on SIGTERM")
        # no reader now: the module keeps these for the next one
        refuse(p2, 4)
        s.start_exporter()
        s.scraped()
        eq(s.value(q1 % p2), 4, "made while no exporter ran, counted after")
        check(s.value("tcptrace_exporter_start_time_seconds") > start1,
              "a new start time")
        eq(s.value("changes(tcptrace_exporter_start_time_seconds[5m])"), 1,
           "Prometheus saw one restart")
    finally:
        s.stop()
    unload()


@test
def rules_and_exposition_pass_promtool():
    check(shutil.which("promtool"), "promtool fetched (selftests/run.sh)")
    r = sh("promtool check rules %s" % RULES, False)
    eq(r.returncode, 0, "promtool check rules: %s%s" % (r.stdout, r.stderr))
    # the rules' answers on series whose answers are known
    r = sh("promtool test rules %s" % os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "rules_test.yml"), False)
    eq(r.returncode, 0, "promtool test rules: %s%s" % (r.stdout, r.stderr))
    load()
    kill_tracers()
    refuse(new_port(), 3)
    out = sh("%s metrics --once" % CLI).stdout
    check("tcptrace_resets_total{" in out, "some RSTs counted")
    r = subprocess.run(["promtool", "check", "metrics"], input=out,
                       capture_output=True, text=True)
    eq(r.returncode, 0, "promtool check metrics: %s%s" % (r.stdout, r.stderr))
    unload()


@test
def port_storm_stays_within_top_ports():
    """Refused connects to 1000 random ports, --top-ports 5: at most 6
    port label values (5 and "other") in the whole exposition, and no
    event lost to the bound."""
    load()
    kill_tracers()
    # below the ephemeral range: a connect to 127.0.0.1:P from source
    # port P connects to itself (no RST); that once made 999 of 1000
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    storm = random.sample(range(low - 10000, low), 1000)
    out = subprocess.Popen([CLI, "metrics", "--listen", EXPORTER,
                            "--top-ports", "5"])
    try:
        deadline = time.time() + TIMEOUT
        while True:
            try:
                http_get("http://%s/metrics" % EXPORTER)
                break
            except OSError:
                check(time.time() < deadline, "exporter serves")
                time.sleep(0.2)
        sh("python3 -c \"import socket\nfor p in %r:\n"
           "  s = socket.socket(); s.connect_ex(('127.0.0.1', p)); "
           "s.close()\"" % (storm,))
        # the exporter's own port may have refused a probe before it
        # listened: a port seen first, so one of the five
        wanted = set(str(p) for p in storm) | {"other"}
        deadline = time.time() + TIMEOUT
        while True:
            body = http_get("http://%s/metrics" % EXPORTER)[1]
            ports, sent = set(), 0
            for line in body.splitlines():
                if 'port="' in line and not line.startswith("#"):
                    ports.add(line.split('port="')[1].split('"')[0])
                if line.startswith("tcptrace_resets_total{") and \
                        'direction="sent"' in line and \
                        line.split('port="')[1].split('"')[0] in wanted:
                    sent += int(line.rsplit(" ", 1)[1])
            if sent >= len(storm) or time.time() > deadline:
                break
            time.sleep(0.5)
    finally:
        out.terminate()
        out.wait()
    diag("port labels: %s" % sorted(ports))
    check(len(ports) <= 6 and "other" in ports, "bounded: %r" % ports)
    eq(sent, len(storm), "every RST of the storm counted, under its port "
       "or other")
    unload()


if __name__ == "__main__":
    run()
