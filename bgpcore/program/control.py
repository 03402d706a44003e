"""The local control socket: a Unix socket speaking JSON lines, for ``bgpcore show``.

A request is one line ``{"command": "show routes", "args": {"prefix": "203.0.113.0/24"}}``;
the answer is one line ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
A Unix socket keeps the interface local: who may talk to it is a file permission (0600).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from bgpcore.errors import BgpError

log = logging.getLogger("bgpcore.control")

Handler = Callable[[Mapping[str, Any]], Any]
"""Answers one command from its arguments with a JSON-serializable value."""

MAX_REQUEST = 1 << 16


class ControlServer:
    """Serves ``handlers`` on a Unix socket at ``path`` while started."""

    def __init__(self, path: str, handlers: Mapping[str, Handler]) -> None:
        self.path = path
        self.handlers = dict(handlers)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket (replacing a stale one left by a crashed instance).

        Raises:
            BgpError: another running instance already answers on ``path``.
        """
        if os.path.exists(self.path):
            if _answers(self.path):
                raise BgpError(f"control socket {self.path} is in use by a running instance")
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=MAX_REQUEST)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def answer(self, line: bytes) -> dict[str, Any]:
        """The reply to one request line."""
        try:
            request = json.loads(line)
            command = request["command"]
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise TypeError("args must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        handler = self.handlers.get(command)
        if handler is None:
            return {"ok": False, "error": f"unknown command {command!r}; known: {', '.join(sorted(self.handlers))}"}
        try:
            return {"ok": True, "result": handler(args)}
        except BgpError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a broken show command must not stop the speaker
            log.exception("control command %s failed", command)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(self.answer(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError):  # client gone, or a line over MAX_REQUEST
            pass
        finally:
            writer.close()


def _answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def request(path: str, command: str, timeout_s: float = 30.0, **args: Any) -> Any:
    """Send one command to a running instance and return its result.

    Raises:
        BgpError: nothing listens on ``path``, or the instance reported an error.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        try:
            s.connect(path)
        except OSError as exc:
            raise BgpError(f"no bgpcore instance on {path}: {exc.strerror or exc}") from None
        s.sendall(json.dumps({"command": command, "args": args}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                raise BgpError(f"{path}: connection closed before the answer")
            data += chunk
    reply = json.loads(data)
    if not reply.get("ok"):
        raise BgpError(str(reply.get("error")))
    return reply["result"]
