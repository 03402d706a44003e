"""Logging set-up for ``bgpcore run``: text lines, or one JSON object per line.

A JSON line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``,
``message`` and, when the record concerns one neighbor, ``peer``. The peer is the
``peer`` attribute of the record (``log.info(..., extra={"peer": peer})``), else the
neighbor the message starts with: bgpcore's session and speaker lines read
``"192.0.2.2: session down..."``. A traceback (``log.exception``) goes in ``exception``.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import sys
import time
from typing import Final, TextIO

FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(name)s %(levelname)s %(message)s"


def _peer_of(message: str) -> str | None:
    head, sep, _ = message.partition(": ")
    if not sep or " " in head or len(head) > 64:
        return None
    address = head.partition("%")[0]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return head


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, object] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z", "level": record.levelname, "logger": record.name,
            "message": message,
        }
        peer = getattr(record, "peer", None) or _peer_of(message)
        if peer:
            out["peer"] = str(peer)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send bgpcore's (and every other) log records to ``stream`` (stderr) as ``fmt``.

    Raises:
        ValueError: unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


__all__ = ["FORMATS", "JsonFormatter", "setup_logging"]
