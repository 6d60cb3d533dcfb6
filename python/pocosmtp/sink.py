"""A capture server: accepts mail on 127.0.0.1 and stores each message as a
``.eml`` file, so examples, docs and tests run on a machine with no mail
server. Needs the ``sink`` extra (aiosmtpd).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
from pathlib import Path
from typing import Any

__all__ = ["Sink"]


@functools.cache
def _controller_type() -> Any:
    """aiosmtpd's Controller, hanging up on every client before it stops.

    Its own stop() cancels the connection handlers and closes the loop while
    their transports are still open, which leaves the server's end of each
    socket to the garbage collector (a ResourceWarning, at some later and
    unrelated moment, in a program that still had a client connected or one
    that just hung up). Made on first use: aiosmtpd is an optional extra.
    Shared with the test suite's aiosmtpd server (tests/servers.py).
    """
    from aiosmtpd.controller import Controller

    class HangingUpController(Controller):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.connections: list[Any] = []

        def factory(self) -> Any:
            smtp = super().factory()  # type: ignore[no-untyped-call, unused-ignore]
            self.connections = [c for c in self.connections if c.transport is not None]
            self.connections.append(smtp)
            return smtp

        async def _hang_up(self) -> None:
            for smtp in self.connections:
                if smtp.transport is not None:
                    smtp.transport.close()
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            if handlers:
                await asyncio.wait(handlers, timeout=2)

        def stop(self, *args: Any, **kwargs: Any) -> None:
            loop = getattr(self, "loop", None)
            if loop is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(self._hang_up(), loop).result(5)
            super().stop(*args, **kwargs)

    return HangingUpController


class _StoreHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stored: list[Path] = []
        self.changed = threading.Condition()
        # Numbering goes on after what an earlier run left in the folder.
        numbers = [int(p.stem) for p in directory.glob("*.eml") if p.stem.isdigit()]
        self._next = max(numbers, default=0) + 1

    # aiosmtpd's hook name.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.changed:
            while True:
                path = self.directory / f"{self._next:06d}.eml"
                self._next += 1
                try:
                    with path.open("xb") as out:  # never overwrite a stored message
                        out.write(envelope.original_content)
                    break
                except FileExistsError:
                    continue
            self.stored.append(path)
            self.changed.notify_all()
        return "250 OK stored"


class Sink:
    """Stores every message it accepts under ``directory`` as NNNNNN.eml.

    Use as a context manager; ``port`` 0 picks a free port.
    """

    def __init__(self, directory: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or _free_port(host)
        self._handler = _StoreHandler(self.directory)
        self._controller = _controller_type()(self._handler, hostname=host, port=self.port)

    @property
    def stored(self) -> list[Path]:
        return list(self._handler.stored)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Path]:
        """Block until ``count`` messages are stored; raise TimeoutError otherwise."""
        with self._handler.changed:
            if not self._handler.changed.wait_for(
                lambda: len(self._handler.stored) >= count, timeout
            ):
                raise TimeoutError(f"{len(self._handler.stored)} of {count} messages arrived")
        return self.stored

    def start(self) -> Sink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Sink {self.host}:{self.port} {str(self.directory)!r}, {len(self.stored)} stored>"


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
