"""The local control socket: a Unix socket speaking versioned JSON lines (docs/operations.md).

A request is one line ``{"version": 1, "command": "show routes", "args": {"prefix": "203.0.113.0/24"}}``
(``version`` may be left out and then means 1); the answer is one line
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "one line"}``. Each command
declares its arguments (``Arg``); the server checks them all (unknown names, types, ranges)
before the command runs, so a bad value is a one-line error and never a traceback.
A Unix socket keeps the interface local: who may talk to it is a file permission (0600).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bgpcore.errors import BgpError

log = logging.getLogger("bgpcore.control")

PROTOCOL_VERSION: Final = 1
"""The version of the request/response protocol this module speaks."""

MAX_REQUEST = 1 << 16

Handler = Callable[..., Any]
"""Runs one command: called with its checked arguments as keywords, returns a JSON-serializable value."""

Check = Callable[[Any], Any]
"""Checks one argument's value and returns it (maybe converted); raises ``ValueError(why)``."""

_REQUIRED: Final = object()


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a command: its name, its check, and its default (none: required)."""

    name: str
    check: Check
    default: Any = _REQUIRED


@dataclass(frozen=True, slots=True)
class Command:
    """A control command: its name (``"show routes"``), what runs it and its arguments."""

    name: str
    run: Handler
    args: tuple[Arg, ...] = ()
    help: str = ""
    raw: bool = False
    """``run`` takes the argument mapping as it came and checks it itself."""

    def call(self, raw: Mapping[str, Any]) -> Any:
        """Check ``raw`` against the declared arguments and run the command.

        Raises:
            BgpError: an unknown, missing or bad argument (one line), or the command's own error.
        """
        if self.raw:
            return self.run(raw)
        known = {a.name for a in self.args}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise BgpError(f"{self.name}: unknown argument {unknown[0]!r}"
                           f" (known: {', '.join(sorted(known)) or 'none'})")
        values: dict[str, Any] = {}
        for arg in self.args:
            if arg.name not in raw or raw[arg.name] is None:
                if arg.default is _REQUIRED:
                    raise BgpError(f"{self.name}: missing argument {arg.name!r}")
                values[arg.name] = arg.default
                continue
            try:
                values[arg.name] = arg.check(raw[arg.name])
            except ValueError as exc:
                raise BgpError(f"{self.name}: {arg.name}: {exc}") from None
        return self.run(**values)


# -- argument checks --------------------------------------------------------------------------

def non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"must be a non-negative integer, not {value!r}")
    return value


def u32(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ValueError(f"must be an integer from 0 to 4294967295, not {value!r}")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {value!r}")
    if "\n" in value or len(value) > 1024:
        raise ValueError("must be one line of at most 1024 characters")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def texts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of strings, not {value!r}")
    return tuple(value)


def choice(*allowed: str) -> Check:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, not {value!r}")
        return str(value)
    return check


# -- the server ---------------------------------------------------------------------------------

class ControlServer:
    """Serves ``commands`` on a Unix socket at ``path`` while started.

    ``commands`` are ``Command`` values, or a mapping of name to a handler taking the raw
    argument mapping (no declared arguments: the handler checks them).
    """

    def __init__(self, path: str, commands: Iterable[Command] | Mapping[str, Callable[[Mapping[str, Any]], Any]]) -> None:
        self.path = path
        if isinstance(commands, Mapping):
            self.commands = {name: Command(name, handler, raw=True) for name, handler in commands.items()}
        else:
            self.commands = {c.name: c for c in commands}
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket (replacing a stale one left by a crashed instance).

        Raises:
            BgpError: the directory is missing, the path is not a socket, or another
                running instance already answers on ``path`` (one line naming the path).
        """
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise BgpError(f"control socket {self.path}: directory {directory} does not exist")
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None:
            if not stat.S_ISSOCK(mode):
                raise BgpError(f"control socket {self.path}: the path exists and is not a socket; remove it")
            if _answers(self.path):
                raise BgpError(f"control socket {self.path} is in use by a running instance")
            log.warning("control socket %s: removing a stale socket (no instance answers on it)", self.path)
            os.unlink(self.path)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=MAX_REQUEST)
        except OSError as exc:
            raise BgpError(f"control socket {self.path}: cannot bind: [Errno {exc.errno}] {exc.strerror}") from None
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        """Close the socket and remove its file."""
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            await server.wait_closed()

    def answer(self, line: bytes) -> dict[str, Any]:
        """The reply to one request line."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise TypeError("a request is a JSON object")
            version = request.get("version", PROTOCOL_VERSION)
            if version != PROTOCOL_VERSION:
                return {"ok": False, "error": f"unsupported protocol version {version!r}; "
                                              f"this instance speaks version {PROTOCOL_VERSION}"}
            name = request["command"]
            if not isinstance(name, str):
                raise TypeError("command must be a string")
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise TypeError("args must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            return {"ok": False, "error": f"bad request: {_one_line(exc)}"}
        command = self.commands.get(name)
        if command is None:
            return {"ok": False, "error": f"unknown command {name!r}; known: {', '.join(sorted(self.commands))}"}
        try:
            return {"ok": True, "result": command.call(args)}
        except BgpError as exc:
            return {"ok": False, "error": _one_line(exc)}
        except Exception as exc:  # noqa: BLE001 - a broken command must not stop the speaker
            log.exception("control command %s failed", name)
            return {"ok": False, "error": f"{name}: internal error: {type(exc).__name__}: {_one_line(exc)}"}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = self.answer(line)
                try:
                    data = json.dumps(reply)
                except (TypeError, ValueError) as exc:
                    log.error("control command answer not serializable: %s", exc)
                    data = json.dumps({"ok": False, "error": f"internal error: answer not serializable: {exc}"})
                writer.write(data.encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError):  # client gone, or a line over MAX_REQUEST
            pass
        finally:
            writer.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


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
        s.sendall(json.dumps({"version": PROTOCOL_VERSION, "command": command, "args": args}).encode() + b"\n")
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise BgpError(f"{path}: connection closed before the answer")
                data += chunk
        except TimeoutError:
            raise BgpError(f"{path}: no answer to {command!r} within {timeout_s:g} s") from None
    reply = json.loads(data)
    if not reply.get("ok"):
        raise BgpError(str(reply.get("error")))
    return reply["result"]
