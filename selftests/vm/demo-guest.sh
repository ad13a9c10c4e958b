#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the demo guest: load tcptrace, trace while making connections.
set -euo pipefail
insmod "$TCPTRACE_KO"
echo "== insmod tcptrace: $(dmesg | grep -m1 'tcptrace: loaded')"
"$TCPTRACE_CLI" &
tracer=$!
sleep 0.5

say() { sleep 0.3; echo; echo "== $*"; }

say "IPv4 loopback: connect, send, close"
python3 - <<'PY'
import socket
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 8080)); ls.listen()
c = socket.create_connection(("127.0.0.1", 8080)); a, _ = ls.accept()
c.sendall(b"GET / HTTP/1.0\r\n\r\n"); a.recv(100); a.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
c.recv(100); c.close(); a.recv(1); a.close(); ls.close()
PY

say "IPv6 loopback"
python3 - <<'PY'
import socket
ls = socket.socket(socket.AF_INET6); ls.bind(("::1", 8443)); ls.listen()
c = socket.create_connection(("::1", 8443)); a, _ = ls.accept()
a.close(); c.recv(1); c.close(); ls.close()
PY

say "connection refused (nothing listens on 9)"
python3 -c 'import socket; socket.socket().connect_ex(("127.0.0.1", 9))'

say "two network namespaces over a veth pair"
ip netns add client && ip netns add server
ip link add veth0 netns client type veth peer name veth1 netns server
ip -n client addr add 192.0.2.1/24 dev veth0 && ip -n client link set veth0 up
ip -n server addr add 192.0.2.2/24 dev veth1 && ip -n server link set veth1 up
ip netns exec server python3 -c '
import socket; ls = socket.socket(); ls.bind(("192.0.2.2", 80)); ls.listen()
a, _ = ls.accept(); a.recv(10); a.close()' &
server=$!
sleep 0.5
ip netns exec client python3 -c '
import socket; c = socket.create_connection(("192.0.2.2", 80)); c.sendall(b"hi"); c.recv(1); c.close()'
wait $server || true
echo "   (netns inodes: client $(stat -L -c %i /run/netns/client), server $(stat -L -c %i /run/netns/server))"

say "the same server with net.ipv4.tcp_window_scaling=0 and tcp_timestamps=0"
ip netns exec server sysctl -qw net.ipv4.tcp_window_scaling=0 net.ipv4.tcp_timestamps=0
ip netns exec server python3 -c '
import socket; ls = socket.socket(); ls.bind(("192.0.2.2", 81)); ls.listen()
a, _ = ls.accept(); a.recv(10); a.close()' &
server=$!
sleep 0.5
ip netns exec client python3 -c '
import socket; c = socket.create_connection(("192.0.2.2", 81)); c.sendall(b"hi"); c.recv(1); c.close()'
wait $server || true

sleep 1
kill -INT $tracer
wait $tracer || true
echo
echo "== tcptrace --stats"
"$TCPTRACE_CLI" --stats
echo
echo "== the same trace as JSON lines: tcptrace -j (one line shown)"
python3 -c 'import socket; socket.socket().connect_ex(("127.0.0.1", 9))' &
"$TCPTRACE_CLI" -j -c 1
rmmod tcptrace
