# SPDX-License-Identifier: GPL-2.0
"""Hand-built Ethernet/IPv4/IPv6/TCP frames and a raw AF_PACKET sender,
for the stress tests' SYN floods and malformed packets.  No scapy on the
hot path: a flood of thousands of frames has to be cheap in a TCG guest.

  python3 pktlib.py IFACE < frames     (send length-prefixed frames; run
                                        in the sender's netns)
"""
import os
import socket
import struct
import sys

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def tcp(sport, dport, flags=0x02, seq=1, ack=0, opts=b"", doff=None,
        window=64240, payload=b""):
    """A TCP header (checksum 0, see finish_*).  @doff in 32-bit words
    overrides the real header length (to lie)."""
    hl = 20 + len(opts)
    if doff is None:
        doff = hl // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (doff & 15) << 4,
                       flags, window, 0, 0) + opts + payload


def ipv4(src, dst, payload, proto=6, ihl=5, ip_opts=b"", ttl=64, ident=1,
         frag=0, tot_len=None, tcp_csum=True):
    """An IPv4 packet with a correct header checksum (so ip_rcv lets it
    through) and, if asked, a correct TCP checksum."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    if tcp_csum and proto == 6 and len(payload) >= 18:
        pseudo = s + d + struct.pack("!BBH", 0, 6, len(payload))
        c = csum(pseudo + payload)
        payload = payload[:16] + struct.pack("!H", c) + payload[18:]
    hdr_len = 20 + len(ip_opts)
    if tot_len is None:
        tot_len = hdr_len + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 15), 0, tot_len, ident,
                    frag, ttl, proto, 0, s, d) + ip_opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, payload, nexthdr=6, hlim=64, plen=None, tcp_off=None):
    """An IPv6 packet; @payload may start with extension headers, the TCP
    header at @tcp_off in it gets its checksum."""
    s = socket.inet_pton(socket.AF_INET6, src)
    d = socket.inet_pton(socket.AF_INET6, dst)
    if tcp_off is not None and len(payload) - tcp_off >= 18:
        seg = payload[tcp_off:]
        pseudo = s + d + struct.pack("!IxxxB", len(seg), 6)
        c = csum(pseudo + seg)
        payload = (payload[:tcp_off + 16] + struct.pack("!H", c) +
                   payload[tcp_off + 18:])
    if plen is None:
        plen = len(payload)
    return struct.pack("!IHBB16s16s", 6 << 28, plen, nexthdr, hlim, s,
                       d) + payload


def ether(dst, src, proto, payload):
    return mac(dst) + mac(src) + struct.pack("!H", proto) + payload


def send_frames(iface, frames):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    n = 0
    for f in frames:
        try:
            s.send(f)
            n += 1
        except OSError:
            pass
    s.close()
    return n


def pack_frames(frames):
    return b"".join(struct.pack("!I", len(f)) + f for f in frames)


def unpack_frames(data):
    off, out = 0, []
    while off + 4 <= len(data):
        n = struct.unpack_from("!I", data, off)[0]
        out.append(data[off + 4:off + 4 + n])
        off += 4 + n
    return out


if __name__ == "__main__":
    frames = unpack_frames(sys.stdin.buffer.read())
    print(send_frames(sys.argv[1], frames), flush=True)
    os._exit(0)
