"""asyncio front for pocosmtp sessions.

Every call of an ``SMTPClientSession`` runs in a thread pool: the bindings
release the GIL inside Poco, so many sessions make progress at once while the
event loop stays free. Method names are Poco's, each a coroutine here::

    async with await AsyncSession.connect("127.0.0.1", 2525) as session:
        await session.login()
        await session.sendMessage(message)

Cancellation and timeouts leave the session in a defined state: a call that
is cancelled (directly or by ``asyncio.timeout``/``wait_for``) cannot be
stopped half way inside Poco, so it is left to finish in its thread (at the
latest after the session's read timeout), the session is then closed, and
every later call raises ``IllegalStateException`` at once. ``close()`` (and
leaving ``async with``) waits until that has happened. A session is never
reused in an unknown state. A cancelled ``connect()`` closes the session its
thread still makes.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Callable

from . import _pocosmtp

__all__ = ["AsyncSession"]

# Session calls spend their time waiting on the network with the GIL released,
# so the pool is sized for concurrent sessions, not for CPU cores (asyncio's
# default executor has only cores + 4 threads).
_POOL_SIZE = 64
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _default_executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="pocosmtp")
        return _pool


def _close_unclaimed(executor: Executor, connecting: asyncio.Future[Any]) -> None:
    if not connecting.cancelled() and connecting.exception() is None:
        executor.submit(connecting.result().close)


class AsyncSession:
    """Wraps a connected ``SMTPClientSession`` (or ``SecureSMTPClientSession``)."""

    def __init__(self, session: Any, executor: Executor | None = None) -> None:
        self.session = session
        self._executor = executor or _default_executor()
        self._broken: str | None = None  # why later calls raise, once closed
        self._closing: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int = 25,
        *,
        session_class: Callable[..., Any] | None = None,
        executor: Executor | None = None,
    ) -> AsyncSession:
        """Connects in the pool (the connect blocks) and wraps the session."""
        make = session_class or _pocosmtp.SMTPClientSession
        loop = asyncio.get_running_loop()
        executor = executor or _default_executor()
        connecting = loop.run_in_executor(executor, make, host, port)
        try:
            session = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # The connect goes on in its thread; close the session it makes
            # rather than leave it to the garbage collector (ResourceWarning).
            connecting.add_done_callback(functools.partial(_close_unclaimed, executor))
            raise
        return cls(session, executor)

    async def _call(self, name: str, *args: Any) -> Any:
        if self._broken is not None:
            raise _pocosmtp.IllegalStateException(self._broken)
        loop = asyncio.get_running_loop()
        call = functools.partial(getattr(self.session, name), *args)
        running = loop.run_in_executor(self._executor, call)
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            self._broken = f"the session is closed: {name}() was cancelled while it ran"
            self._closing = loop.create_task(self._close_after(running))
            raise

    async def _close_after(self, running: asyncio.Future[Any]) -> None:
        """Lets the cancelled call end in its thread, then closes the session."""
        try:
            await running
        except Exception:  # its caller has been told: cancelled
            pass
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._quiet_close)

    def _quiet_close(self) -> None:
        try:
            self.session.close()
        except _pocosmtp.PocoException:
            pass

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or not callable(getattr(self.session, name, None)):
            raise AttributeError(name)

        async def method(*args: Any) -> Any:
            return await self._call(name, *args)

        method.__name__ = name
        return method

    async def close(self) -> None:
        """Closes the session (QUIT). After a cancelled call, waits until the
        call has ended in its thread and the session is closed. Does nothing
        on a closed session."""
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        if self._broken is None:
            try:
                await self._call("close")
            finally:
                if self._broken is None:
                    self._broken = "the session is closed: close() was called"

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            await self.close()
            return
        try:
            await self.close()
        except _pocosmtp.PocoException:
            pass  # the connection is gone either way; the block's error matters

    def __repr__(self) -> str:
        # The session's own repr says "closed" once it is; until a cancelled
        # call has ended in its thread, this one says "closing".
        closing = self._closing is not None and not self._closing.done()
        return f"<AsyncSession {self.session!r}{' closing' if closing else ''}>"
