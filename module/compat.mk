# SPDX-License-Identifier: GPL-2.0
# Feature tests against the target kernel's headers, for module/compat.h:
# each greps the tree kbuild builds against ($(srctree)) for the feature
# itself, never a version number, so distribution backports are found
# too.  Included by the top-level Kbuild and by the KUnit glue.
ccflags-y += $(if $(wildcard $(srctree)/include/linux/unaligned.h),-DTCPTRACE_HAVE_LINUX_UNALIGNED)
ccflags-y += $(if $(shell grep -s rx_sk $(srctree)/include/trace/events/skb.h),-DTCPTRACE_HAVE_KFREE_SKB_RX_SK)
ccflags-y += $(if $(shell grep -s sk_rst_reason $(srctree)/include/trace/events/tcp.h),-DTCPTRACE_HAVE_RST_REASON)
ccflags-y += $(if $(shell grep -sE 'u64[[:space:]]+net_cookie;' $(srctree)/include/net/net_namespace.h),-DTCPTRACE_HAVE_NET_COOKIE_U64)
ccflags-y += $(if $(shell grep -s 'enum skb_drop_reason' $(srctree)/include/trace/events/skb.h),-DTCPTRACE_HAVE_KFREE_SKB_REASON)
ccflags-y += $(if $(wildcard $(srctree)/include/net/dropreason.h),-DTCPTRACE_HAVE_DROP_REASON_NAMES)
ccflags-y += $(if $(shell grep -s 'const struct sock \*rx_sk' $(srctree)/include/trace/events/skb.h),-DTCPTRACE_HAVE_KFREE_SKB_CONST_RX_SK)
# IPv6 forwarding's MTU helper, ip6_dst_mtu_forward() before 5.15
ccflags-y += $(if $(shell grep -s ip6_dst_mtu_maybe_forward $(srctree)/include/net/ip6_route.h),-DTCPTRACE_HAVE_IP6_DST_MTU_MAYBE_FORWARD)
# The socket lookups without their struct inet_hashinfo argument (7.x):
# the declaration's next line no longer names it.
ccflags-y += $(if $(shell grep -sA1 '^struct sock \*__inet_lookup_established.' $(srctree)/include/net/inet_hashtables.h | grep hashinfo),,-DTCPTRACE_HAVE_LOOKUP_NO_HASHINFO)
ccflags-y += $(if $(shell grep -sA1 '^struct sock \*inet6_lookup_listener.' $(srctree)/include/net/inet6_hashtables.h | grep hashinfo),,-DTCPTRACE_HAVE_LOOKUP6_NO_HASHINFO)
