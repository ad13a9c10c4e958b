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
echo "== diagnoses: tcpwhy --diag while things go wrong"
"$TCPTRACE_CLI" --diag &
tracer=$!
sleep 0.5

say "a firewall drops SYNs to port 82 on the server"
ip netns exec server nft -f - <<'NFT'
table inet demo {
	chain in {
		type filter hook input priority 0;
		tcp dport 82 tcp flags syn drop
	}
}
NFT
ip netns exec server python3 -c '
import socket, time; ls = socket.socket(); ls.bind(("192.0.2.2", 82)); ls.listen(); time.sleep(5)' &
sleep 0.5
ip netns exec client sysctl -qw net.ipv4.tcp_syn_retries=1
ip netns exec client python3 -c '
import socket; print("   connect:", socket.socket().connect_ex(("192.0.2.2", 82)))'

say "close() with SO_LINGER {1, 0}"
python3 -c '
import socket, struct, time
ls = socket.socket(); ls.bind(("127.0.0.1", 8081)); ls.listen()
c = socket.create_connection(("127.0.0.1", 8081)); a, _ = ls.accept()
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close(); time.sleep(0.2)'

say "a router on the path resets the first request (nft reject with tcp reset)"
ip netns add router
ip link add veth2 netns client type veth peer name veth3 netns router
ip link add veth4 netns router type veth peer name veth5 netns server
ip -n client addr add 198.51.100.1/24 dev veth2 && ip -n client link set veth2 up
ip -n router addr add 198.51.100.2/24 dev veth3 && ip -n router link set veth3 up
ip -n router addr add 203.0.113.2/24 dev veth4 && ip -n router link set veth4 up
ip -n server addr add 203.0.113.1/24 dev veth5 && ip -n server link set veth5 up
ip -n client route add 203.0.113.0/24 via 198.51.100.2
ip -n server route add 198.51.100.0/24 via 203.0.113.2
ip netns exec router sysctl -qw net.ipv4.ip_forward=1
ip netns exec router nft -f - <<'NFT'
table inet mb {
	chain forward_mb {
		type filter hook forward priority 0;
		tcp dport 8000 tcp flags & psh == psh reject with tcp reset
	}
}
NFT
ip netns exec server python3 -c '
import socket; ls = socket.socket(); ls.bind(("203.0.113.1", 8000)); ls.listen()
a, _ = ls.accept(); a.settimeout(3)
try: a.recv(10)
except Exception: pass' &
sleep 0.5
ip netns exec client python3 -c '
import socket, time
c = socket.create_connection(("203.0.113.1", 8000)); c.sendall(b"GET / HTTP/1.0\r\n\r\n"); time.sleep(0.3)
try: c.recv(10)
except ConnectionResetError: print("   client: Connection reset by peer")'

say "a container host: client -> host:8080 (DNAT) -> container:80; the host reports nothing"
ip netns add host && ip netns add ctr
ip link add veth6 netns client type veth peer name veth7 netns host
ip link add veth8 netns host type veth peer name veth9 netns ctr
ip -n client addr add 10.99.0.2/24 dev veth6 && ip -n client link set veth6 up
ip -n host addr add 10.99.0.1/24 dev veth7 && ip -n host link set veth7 up
ip -n host addr add 10.88.0.1/24 dev veth8 && ip -n host link set veth8 up
ip -n ctr addr add 10.88.0.2/24 dev veth9 && ip -n ctr link set veth9 up
ip -n ctr link set lo up
ip -n ctr route add default via 10.88.0.1
ip netns exec host sysctl -qw net.ipv4.ip_forward=1
ip netns exec host nft -f - <<'NFT'
table ip nat {
	chain pre {
		type nat hook prerouting priority -100;
		ip daddr 10.99.0.1 tcp dport 8080 dnat to 10.88.0.2:80
	}
	chain post {
		type nat hook postrouting priority 100;
		oifname "veth7" masquerade
	}
}
NFT
ip netns exec ctr python3 -c '
import socket; ls = socket.socket(); ls.bind(("10.88.0.2", 80)); ls.listen()
a, _ = ls.accept(); a.recv(10); a.close()' &
sleep 0.5
ip netns exec client python3 -c '
import socket; c = socket.create_connection(("10.99.0.1", 8080)); c.sendall(b"hi"); c.recv(1); c.close()'
ip netns exec client python3 -c '
import socket; print("   connect to 10.99.0.1:8081 (nothing behind it):", socket.socket().connect_ex(("10.99.0.1", 8081)))'
echo "   (netns inodes: client $(stat -L -c %i /run/netns/client), host $(stat -L -c %i /run/netns/host), container $(stat -L -c %i /run/netns/ctr))"

say "seed 000: a SYN on a tuple still in TIME_WAIT, with an older timestamp (PAWS)"
# The server (192.0.2.2:83) closes first, so the tuple stays in TIME_WAIT
# there.  The client's kernel must not RST the server's ACKs, which would
# end it; its timestamps without random offsets (tcp_timestamps=2) make an
# older one easy to pick.  The SYNs leave as frames (scapy's sendp), as if
# from a second host behind the same NAT.
ip netns exec client sysctl -qw net.ipv4.tcp_timestamps=2
ip netns exec server sysctl -qw net.ipv4.tcp_window_scaling=1 net.ipv4.tcp_timestamps=1
ip -n client link set lo up
ip netns exec client nft -f - <<'NFT'
table inet q {
	chain out {
		type filter hook output priority 0;
		tcp dport 83 tcp flags rst drop
	}
}
NFT
ip netns exec server python3 -c '
import socket, time; ls = socket.socket(); ls.bind(("192.0.2.2", 83)); ls.listen()
a, _ = ls.accept(); a.sendall(b"bye"); a.close(); time.sleep(4)' &
sleep 0.5
smac=$(ip netns exec server cat /sys/class/net/veth1/address)
ip netns exec client python3 - "$smac" <<'PY'
import socket, sys, time
from scapy.all import Ether, IP, TCP, sendp, conf
conf.verb = 0
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind(("192.0.2.1", 45000))
c.connect(("192.0.2.2", 83))
c.recv(10)
time.sleep(0.2)
c.close()
time.sleep(0.3)
mac = open("/sys/class/net/veth0/address").read().strip()
syn = (Ether(src=mac, dst=sys.argv[1]) / IP(src="192.0.2.1", dst="192.0.2.2") /
       TCP(sport=45000, dport=83, flags="S", seq=12345,
           options=[("MSS", 1460), ("Timestamp", (1, 0))]))
sendp([syn, syn], iface="veth0", inter=0.6)
print("   client: 2 SYNs with TSval 1 sent, the server answered with ACKs only")
PY
sleep 1.5
ip netns exec client nft delete table inet q

say "the active closer's TIME_WAIT, and a bind() it blocks"
python3 -c '
import socket
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 8082)); ls.listen()
c = socket.socket(); c.bind(("127.0.0.1", 40000)); c.connect(("127.0.0.1", 8082))
a, _ = ls.accept(); c.close(); a.recv(1); a.close()
try: socket.socket().bind(("127.0.0.1", 40000))
except OSError as e: print("   bind(40000):", e)'
sleep 1
kill -INT $tracer
wait $tracer || true
echo
echo "== tcpwhy conns --state time-wait -P 40000"
"$TCPTRACE_CLI" conns --state time-wait -P 40000

echo
echo "== tcpwhy conns: one line per finished connection"
"$TCPTRACE_CLI" conns &
tracer=$!
sleep 0.5
python3 -c '
import socket
ls = socket.socket(); ls.bind(("127.0.0.1", 8083)); ls.listen()
c = socket.create_connection(("127.0.0.1", 8083)); a, _ = ls.accept()
c.sendall(b"x" * 3000); n = 0
while n < 3000: n += len(a.recv(4096))
a.sendall(b"y" * 200); c.recv(200); c.close(); a.recv(1); a.close()
socket.socket().connect_ex(("127.0.0.1", 9))'
sleep 1
kill -INT $tracer
wait $tracer || true

echo
echo "== tcpwhy --stats"
"$TCPTRACE_CLI" --stats
echo
echo "== the same trace as JSON lines: tcpwhy -j (one line shown)"
python3 -c 'import socket; socket.socket().connect_ex(("127.0.0.1", 9))' &
"$TCPTRACE_CLI" -j -c 1
rmmod tcptrace
