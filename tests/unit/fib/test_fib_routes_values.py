"""FIB route values: prefix keys, hops read back from dumped routes, `show fib` text."""
from __future__ import annotations

import ipaddress
import socket

from bgpcore.fib import netlink as nl
from bgpcore.fib.routes import FibRoute, NextHop, fib_key, format_fib, hops_of, kernel_key, key_prefix, route_key
from bgpcore.wire.nlri import network_key

net = ipaddress.ip_network


def test_route_keys_are_the_ribs_nlri_keys_for_ipv4_and_address_plus_length_for_ipv6() -> None:
    for text in ("0.0.0.0/0", "203.0.113.128/25", "192.0.2.1/32", "10.0.0.0/8", "::/0", "2001:db8::/32",
                 "2001:db8::1/128"):
        prefix = net(text)
        key = route_key(prefix)
        if prefix.version == 4:
            assert key == network_key(prefix)  # the very bytes the RIB keys the prefix by
            assert fib_key(1, key) is key
        else:
            assert len(key) == 17 and key[-1] == prefix.prefixlen
            assert fib_key(2, network_key(prefix)) == key
        assert key_prefix(key) == prefix
        dst = prefix.network_address.packed
        assert kernel_key(socket.AF_INET if prefix.version == 4 else socket.AF_INET6, dst, prefix.prefixlen) == key
    assert kernel_key(socket.AF_INET, None, 0) == route_key(net("0.0.0.0/0"))
    assert route_key(net("192.0.2.0/24")) != route_key(net("192.0.2.0/25"))


def test_hops_of_a_dumped_route_keep_only_the_onlink_flag_and_the_kernels_ecmp_order() -> None:
    v4 = bytes([192, 0, 2, 2])
    single = nl.RouteMessage(family=socket.AF_INET, gateway=v4, oif=3, flags=nl.RTNH_F_ONLINK | 0x10)
    assert hops_of(single) == ((socket.AF_INET, v4, 3, nl.RTNH_F_ONLINK, 1),)
    ll = ipaddress.IPv6Address("fe80::1").packed
    via = nl.RouteMessage(family=socket.AF_INET, via=(socket.AF_INET6, ll), oif=4)
    assert hops_of(via) == ((socket.AF_INET6, ll, 4, 0, 1),)
    multi = nl.RouteMessage(family=socket.AF_INET, multipath=(
        nl.PathHop(gateway=bytes([192, 0, 2, 9]), ifindex=3, weight=2), nl.PathHop(gateway=v4, ifindex=3, weight=1)))
    assert [h[1] for h in hops_of(multi)] == [bytes([192, 0, 2, 9]), v4]  # as Fib gave them
    assert hops_of(nl.RouteMessage(family=socket.AF_INET, oif=7)) == ((socket.AF_UNSPEC, b"", 7, 0, 1),)


def test_format_fib_prints_one_line_per_route_with_weights_for_ecmp() -> None:
    text = format_fib([FibRoute(net("203.0.113.0/24"), (NextHop("192.0.2.2", 3),)),
                       FibRoute(net("2001:db8::/32"), (NextHop("fe80::1", 4, weight=1), NextHop("fe80::2", 4, weight=3))),
                       FibRoute(net("198.51.100.0/24"), (NextHop(None, 5),))])
    assert text.splitlines() == [
        "203.0.113.0/24 via 192.0.2.2 ifindex 3",
        "2001:db8::/32 via fe80::1 ifindex 4 weight 1, via fe80::2 ifindex 4 weight 3",
        "198.51.100.0/24 via direct ifindex 5",
    ]
