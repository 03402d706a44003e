"""Kernel refusals become FibError values naming the errno and the kernel's own words."""
from __future__ import annotations

from bgpcore.errors import FibError
from bgpcore.fib import netlink as nl
from bgpcore.fib.netlink import fib_error


def test_refusal_names_errno_strerror_extack_and_what_it_concerns() -> None:
    err = nl.ErrorMessage(errno=100, request_type=nl.MsgType.NEWROUTE, request_seq=7, extack="Nexthop device is not up")
    exc = fib_error(err, "203.0.113.0/24")
    assert isinstance(exc, FibError) and exc.errno == 100
    assert str(exc) == "203.0.113.0/24: ENETDOWN (Network is down): Nexthop device is not up"


def test_refusal_without_extack_still_names_the_errno() -> None:
    exc = fib_error(nl.ErrorMessage(errno=19, request_type=nl.MsgType.NEWROUTE, request_seq=1))
    assert str(exc) == "ENODEV (No such device)"
