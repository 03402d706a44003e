"""The ``bgpcore`` command: a small dispatcher of subcommands.

Each subcommand is a ``(name, help, add_arguments, run)`` row in ``COMMANDS``; ``run`` takes
the parsed arguments and returns the exit status.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from bgpcore.constants import Afi, Origin, Safi
from bgpcore.errors import BgpError, UsageError
from bgpcore.program.mrt_cli import add_mrt_arguments, run_mrt
from bgpcore.wire.types import PathAttributes


def _sample_updates(ipv4: int, ipv6: int, seed: int) -> bytes:
    """UPDATE messages of a generated table (benchmarks/generator.py of the source tree)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "generator.py").is_file():
        raise BgpError("the demo needs the source tree's benchmarks/generator.py; run it from a checkout")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks.generator import encode_table, generate_table

    return b"".join(encode_table(generate_table(ipv4, ipv6, seed)))


def _community(value: int) -> str:
    return f"{value >> 16}:{value & 0xFFFF}"


def describe_attributes(attrs: PathAttributes) -> Iterable[str]:
    """The attribute set as ``show bgp`` prints it, one short item per attribute."""
    if attrs.origin is not None:
        yield f"origin {Origin(attrs.origin).name}"
    yield "as-path " + " ".join(" ".join(map(str, asns)) if kind == 2 else "{" + ",".join(map(str, asns)) + "}"
                                for kind, asns in attrs.as_path)
    if attrs.local_pref is not None:
        yield f"local-pref {attrs.local_pref}"
    if attrs.med is not None:
        yield f"med {attrs.med}"
    if attrs.communities:
        yield "communities " + " ".join(map(_community, attrs.communities))
    if attrs.large_communities:
        yield "large-communities " + " ".join(f"{a}:{b}:{c}" for a, b, c in attrs.large_communities)


def run_demo(args: argparse.Namespace) -> int:
    """Decode a sample of real-shaped UPDATEs and print what they announce."""
    from bgpcore.wire.context import DEFAULT_CONTEXT
    from bgpcore.wire.framing import split_messages
    from bgpcore.wire.nlri import key_to_network
    from bgpcore.wire.update import decode_update

    stream = _sample_updates(args.ipv4, args.ipv6, args.seed)
    messages, used = split_messages(stream)
    assert used == len(stream)
    prefixes = 0
    for number, (_, body) in enumerate(messages, 1):
        update = decode_update(body, DEFAULT_CONTEXT)
        family: tuple[int, int] = (Afi.IPV4, Safi.UNICAST)
        keys = update.nlri
        next_hop: tuple[str | None, ...] = (update.attributes.next_hop,) if update.attributes else ()
        if update.mp_reach is not None:
            family, keys, next_hop = (update.mp_reach.afi, update.mp_reach.safi), update.mp_reach.nlri, update.mp_reach.next_hop
        prefixes += len(keys)
        print(f"UPDATE {number}: {len(body) + 19} octets, {Afi(family[0]).name} {Safi(family[1]).name}, {len(keys)} prefix{'' if len(keys) == 1 else 'es'} via {' '.join(map(str, next_hop))}")
        if update.attributes is not None:
            print("  " + "  ".join(describe_attributes(update.attributes)))
        shown = " ".join(str(key_to_network(k, family[0])) for k in keys[:8])
        print(f"  {shown}{' ...' if len(keys) > 8 else ''}")
    print(f"{len(messages)} UPDATEs decoded, {prefixes} prefixes")
    return 0


def _sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ipv4", type=int, default=40, help="IPv4 prefixes in the sample (default 40)")
    parser.add_argument("--ipv6", type=int, default=10, help="IPv6 prefixes in the sample (default 10)")
    parser.add_argument("--seed", type=int, default=1)


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

DEFAULT_SOCKET = "/run/bgpcore.sock"


def _count(value: str) -> int:
    """argparse type: a non-negative integer."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, not {value!r}")
    return number


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="TOML configuration (see examples/rr.toml)")
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--log-format", default="text", choices=("text", "json"),
                        help="text lines, or one JSON object per line (time, level, logger, message, peer)")


def run_program(args: argparse.Namespace) -> int:
    """Run the router of ``--config`` until SIGTERM or SIGINT; SIGHUP reloads the file.

    Exit status 0 after a signal, 2 for a configuration error, 1 when start-up fails at run time
    (address in use or not on this machine, control socket directory missing...); the
    failure is one line naming the address, port or path.
    """
    import asyncio
    import signal

    from bgpcore.program.config import load_config
    from bgpcore.program.daemon import serve
    from bgpcore.program.logs import setup_logging

    config = load_config(args.config)  # ConfigError: exit 2
    setup_logging(args.log_level, args.log_format)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the loop's handler takes over: never die of it
    try:
        asyncio.run(serve(config, config_path=args.config))
    except KeyboardInterrupt:  # SIGINT before the loop's handler was installed
        return 0
    except OSError as exc:  # netlink refused, and the like: one line, no traceback
        where = f" {exc.filename}" if exc.filename else ""
        raise BgpError(f"cannot start:{where} [Errno {exc.errno}] {exc.strerror or exc}") from None
    return 0


def _client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", default=None, help=f"control socket (default: --config's, else {DEFAULT_SOCKET})")
    parser.add_argument("--config", default=None, help="read the control socket path from this configuration")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer (default 30)")


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("neighbors", "neighbor", "routes", "route", "adj-rib-in", "adj-rib-out",
                                         "fib", "bfd", "version"))
    parser.add_argument("operands", nargs="*", metavar="ARG",
                        help="neighbor ADDR|IFACE; routes [PREFIX|ADDRESS]; route PREFIX explain; "
                             "adj-rib-in|adj-rib-out NEIGHBOR")
    _client_arguments(parser)
    parser.add_argument("--limit", type=_count, default=100, help="routes to list (default 100)")
    more = parser.add_mutually_exclusive_group()
    more.add_argument("--longer", action="store_true", help="routes: the prefix and its more specifics")
    more.add_argument("--shorter", action="store_true", help="routes: the prefix and its less specifics")
    parser.add_argument("--family", choices=("ipv4-unicast", "ipv6-unicast", "all"), default="all",
                        help="adj-rib-in/out: one family (default all)")
    parser.add_argument("--received", action="store_true",
                        help="adj-rib-in: routes as received, before import policy (soft reconfiguration)")


def _socket(args: argparse.Namespace) -> str:
    path: str | None = args.socket
    if path is None and args.config:
        from bgpcore.program.config import load_config
        path = load_config(args.config).control_socket
    return path or DEFAULT_SOCKET


def _ask(args: argparse.Namespace, command: str, render_as: str, **request_args: object) -> int:
    import json

    from bgpcore.program.control import request

    result = request(_socket(args), command, timeout_s=args.timeout, **request_args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from bgpcore.program.render import render
    print(render(render_as, result))
    return 0


def _operands(args: argparse.Namespace, usage: str, low: int, high: int) -> list[str]:
    ops: list[str] = args.operands
    if not low <= len(ops) <= high:
        raise UsageError(f"usage: bgpcore show {usage}")
    return ops


def run_show(args: argparse.Namespace) -> int:
    """Ask a running instance over its control socket and print the answer."""
    what = args.what
    if (args.longer or args.shorter) and what != "routes":
        raise UsageError("--longer and --shorter go with 'show routes PREFIX'")
    if args.received and what != "adj-rib-in":
        raise UsageError("--received goes with 'show adj-rib-in NEIGHBOR'")
    if what == "neighbor":
        (neighbor,) = _operands(args, "neighbor ADDR|IFACE", 1, 1)
        return _ask(args, "show neighbor", what, neighbor=neighbor)
    if what == "routes":
        ops = _operands(args, "routes [PREFIX|ADDRESS] [--longer|--shorter]", 0, 1)
        extra: dict[str, object] = {"prefix": ops[0]} if ops else {}
        if args.longer or args.shorter:
            if not ops:
                raise UsageError("--longer and --shorter need a prefix: show routes PREFIX --longer")
            extra["longer" if args.longer else "shorter"] = True
        return _ask(args, "show routes", what, limit=args.limit, **extra)
    if what == "route":
        ops = _operands(args, "route PREFIX explain", 2, 2)
        if ops[1] != "explain":
            raise UsageError("usage: bgpcore show route PREFIX explain")
        return _ask(args, "show route explain", "explain", prefix=ops[0])
    if what in ("adj-rib-in", "adj-rib-out"):
        (neighbor,) = _operands(args, f"{what} NEIGHBOR", 1, 1)
        extra = {"received": True} if args.received else {}
        return _ask(args, f"show {what}", what, neighbor=neighbor, family=args.family, limit=args.limit, **extra)
    _operands(args, what, 0, 0)
    if what == "fib":
        return _ask(args, "show fib", what, limit=args.limit)
    return _ask(args, f"show {what}", what)


_ANNOUNCE_KEYS = {"next-hop": False, "local-pref": False, "med": False, "origin": False, "communities": True,
                  "as-path": True}


def _announce_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prefix")
    parser.add_argument("attributes", nargs="*", metavar="KEYWORD VALUE",
                        help="next-hop ADDR, communities C..., local-pref N, med N, as-path ASN..., "
                             "origin igp|egp|incomplete")
    _client_arguments(parser)


def parse_announce(words: list[str]) -> dict[str, object]:
    """``next-hop X communities A B local-pref N med N as-path 1 2`` into request arguments.

    Raises:
        UsageError: an unknown keyword, a missing value, or a number that is not one.
    """
    out: dict[str, object] = {}
    i = 0
    while i < len(words):
        key = words[i]
        if key not in _ANNOUNCE_KEYS:
            raise UsageError(f"announce: unknown keyword {key!r} (known: {', '.join(_ANNOUNCE_KEYS)})")
        if key in out or key.replace("-", "_") in out:
            raise UsageError(f"announce: {key} given twice")
        values = []
        i += 1
        while i < len(words) and words[i] not in _ANNOUNCE_KEYS:
            values.append(words[i])
            i += 1
            if not _ANNOUNCE_KEYS[key]:
                break
        if not values:
            raise UsageError(f"announce: {key} needs a value")
        name = key.replace("-", "_")
        if key in ("local-pref", "med"):
            if not values[0].isdigit() or int(values[0]) >= 2**32:
                raise UsageError(f"announce: {key} must be an integer from 0 to 4294967295, not {values[0]!r}")
            out[name] = int(values[0])
        elif _ANNOUNCE_KEYS[key]:
            out[name] = values
        else:
            out[name] = values[0]
    return out


def run_announce(args: argparse.Namespace) -> int:
    return _ask(args, "announce", "announce", prefix=args.prefix, **parse_announce(args.attributes))


def _withdraw_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prefix")
    _client_arguments(parser)


def run_withdraw(args: argparse.Namespace) -> int:
    return _ask(args, "withdraw", "withdraw", prefix=args.prefix)


def _neighbor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("neighbor", metavar="ADDR|IFACE")
    parser.add_argument("action", choices=("reset", "soft-in", "soft-out", "shutdown", "enable"))
    parser.add_argument("message", nargs="*", help="reset/shutdown: the RFC 8203 shutdown communication")
    _client_arguments(parser)


def run_neighbor(args: argparse.Namespace) -> int:
    message = " ".join(args.message)
    if message and args.action not in ("reset", "shutdown"):
        raise UsageError(f"neighbor {args.action} takes no message")
    return _ask(args, "neighbor", "neighbor-action", neighbor=args.neighbor, action=args.action, message=message)


def run_reload(args: argparse.Namespace) -> int:
    return _ask(args, "reload", "reload")


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefixes", type=int, default=200_000,
                        help="prefixes in the generated table, 5/6 IPv4 and 1/6 IPv6 (default 200000)")
    parser.add_argument("--clients", type=int, default=4, help="route-reflector clients (default 4)")
    parser.add_argument("--shards", type=int, default=1, help="RIB shards of the reflector (default 1)")
    parser.add_argument("--seed", type=int, default=1)


def run_rr_demo(args: argparse.Namespace) -> int:
    from bgpcore.program.demo import run_demo as rr_demo

    return rr_demo(args.prefixes, args.clients, args.shards, args.seed)


COMMANDS: list[Command] = [
    ("run", "run a router (route reflector or fabric node) from a TOML configuration", _run_arguments, run_program),
    ("show", "ask a running instance: neighbors, neighbor ADDR, routes [PREFIX], route PREFIX explain, "
             "adj-rib-in|adj-rib-out NEIGHBOR, fib, bfd, version", _show_arguments, run_show),
    ("announce", "originate a prefix: announce PREFIX [next-hop X] [communities ...] [local-pref N] [med N] "
                 "[as-path ...]", _announce_arguments, run_announce),
    ("withdraw", "stop originating a prefix", _withdraw_arguments, run_withdraw),
    ("neighbor", "act on a neighbor: reset, soft-in, soft-out, shutdown [message], enable", _neighbor_arguments,
     run_neighbor),
    ("reload", "read the configuration again and apply the difference (as SIGHUP)", _client_arguments, run_reload),
    ("demo", "route-reflector demo on loopback: a feeder, a reflector and clients, with a summary",
     _demo_arguments, run_rr_demo),
    ("decode-sample", "decode a generated sample of full-table UPDATEs and print them", _sample_arguments, run_demo),
    ("mrt", "print an MRT file (RIB dump or update log) one route per line, as bgpdump -m", add_mrt_arguments, run_mrt),
]


def build_parser() -> argparse.ArgumentParser:
    from bgpcore import __version__

    parser = argparse.ArgumentParser(prog="bgpcore", description="BGP-4 speaker library: tools and demos.")
    parser.add_argument("--version", action="version", version=f"bgpcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except UsageError as exc:  # a configuration or command-line error
        print(f"bgpcore: {exc}", file=sys.stderr)
        return 2
    except BgpError as exc:
        print(f"bgpcore: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
    return status


if __name__ == "__main__":
    sys.exit(main())
