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
from bgpcore.errors import BgpError
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


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="TOML configuration (see examples/rr.toml)")
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def run_program(args: argparse.Namespace) -> int:
    """Run the route reflector of ``--config`` until SIGTERM or SIGINT."""
    import asyncio
    import logging

    from bgpcore.program.config import load_config
    from bgpcore.program.daemon import serve

    config = load_config(args.config)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(config))
    except OSError as exc:  # a listener that cannot bind, netlink refused: one line, no traceback
        raise BgpError(f"cannot start: {exc}") from None
    return 0


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("neighbors", "routes", "fib", "bfd"))
    parser.add_argument("prefix", nargs="?", help="for 'routes': one prefix")
    parser.add_argument("--socket", default=None, help=f"control socket (default: --config's, else {DEFAULT_SOCKET})")
    parser.add_argument("--config", default=None, help="read the control socket path from this configuration")
    parser.add_argument("--limit", type=int, default=100, help="routes to list without a prefix (default 100)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def run_show(args: argparse.Namespace) -> int:
    """Ask a running instance over its control socket and print the answer."""
    import json

    from bgpcore.program.control import request

    path = args.socket
    if path is None and args.config:
        from bgpcore.program.config import load_config
        path = load_config(args.config).control_socket
    path = path or DEFAULT_SOCKET
    if args.prefix and args.what != "routes":
        raise BgpError(f"show {args.what} takes no prefix")
    extra = {"prefix": args.prefix} if args.prefix else {}
    result = request(path, f"show {args.what}", limit=args.limit, **extra)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from bgpcore.program.render import render
    print(render(args.what, result))
    return 0


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
    ("show", "ask a running instance: neighbors, routes [prefix], fib, bfd", _show_arguments, run_show),
    ("demo", "route-reflector demo on loopback: a feeder, a reflector and clients, with a summary",
     _demo_arguments, run_rr_demo),
    ("decode-sample", "decode a generated sample of full-table UPDATEs and print them", _sample_arguments, run_demo),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bgpcore", description="BGP-4 speaker library: tools and demos.")
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
    except BgpError as exc:
        print(f"bgpcore: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head`
        return 0
    return status


if __name__ == "__main__":
    sys.exit(main())
