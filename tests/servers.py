"""Real SMTP peers for the tests, each on 127.0.0.1 at an ephemeral port.

- ``SmtpServer``: aiosmtpd, the normal dialogue; records what it accepts.
- ``ScriptedPeer``: plays a fixed list of replies and records every byte the
  client sends, for exact wire checks and for misbehaving servers.
- ``FastSink``: a minimal threaded SMTP sink that accepts everything and only
  counts, fast enough for tens of thousands of messages and sessions.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass

from pocosmtp.sink import _controller_type


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"servers.{self._name}"


STALL = _Marker("STALL")  # stop answering, keep the connection open
CLOSE = _Marker("CLOSE")  # close the connection (FIN)
RESET = _Marker("RESET")  # abort the connection (RST)

Step = "str | bytes | _Marker | tuple | Callable[[socket.socket, threading.Event], bool]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ aiosmtpd


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # as received, dot-unstuffed, CRLF line ends


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.changed:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
            self.changed.notify_all()
        return "250 OK message accepted"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; keyword arguments go to ``aiosmtpd.smtp.SMTP``."""

    host = "127.0.0.1"

    def __init__(self, handler: _Recorder | None = None, **smtp_kwargs) -> None:
        self.handler = handler or _Recorder()
        smtp_kwargs.setdefault("auth_require_tls", False)
        self.port = free_port()
        # The package's Sink controller: it hangs up on clients before stopping.
        self._controller = _controller_type()(
            self.handler, hostname=self.host, port=self.port, **smtp_kwargs
        )

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self.handler.changed:
            if not self.handler.changed.wait_for(
                lambda: len(self.handler.messages) >= count, timeout
            ):
                raise AssertionError(
                    f"server received {len(self.handler.messages)} messages, expected {count}"
                )
        return self.handler.messages


# ------------------------------------------------------------- scripted peer


class ScriptedPeer:
    """Answers each client line with the next entry of ``script``.

    ``script[0]`` is the greeting. After a reply starting with 354 the peer
    first collects message data up to CRLF.CRLF, then answers with the next
    entry. A str entry gets CRLF appended; bytes are sent as they are. A
    tuple entry plays its steps one after the other without waiting for the
    client (``(b"25", CLOSE)``: a partial line, then the close). A callable
    entry is called as ``step(conn, stop)`` to write (or read) whatever it
    likes and returns whether the conversation goes on; ``stop`` is set when
    the peer is stopped. When the script runs out, QUIT is answered "221 bye"
    and anything else "500 script exhausted". After answering QUIT the peer
    closes.
    """

    def __init__(self, script: list, host: str = "127.0.0.1") -> None:
        self.script = list(script)
        self.received = bytearray()
        self.lines: list[str] = []
        self.data: list[bytes] = []
        self.connections = 0
        self._stop = threading.Event()
        self._done = threading.Event()
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.05)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="scripted-peer", daemon=True)
        self._thread.start()

    # -- public

    def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the current conversation has ended (either side closed)."""
        if not self._done.wait(timeout):
            raise AssertionError("the scripted conversation did not end in time")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    # -- server thread

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            self._done.clear()
            try:
                self._converse(conn)
            except OSError:
                pass
            finally:
                conn.close()
                self._done.set()

    def _converse(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        steps = iter(self.script)
        if not self._send(conn, next(steps, CLOSE)):
            return
        pending = b""
        in_data = False
        while not self._stop.is_set():
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            self.received += chunk
            pending += chunk
            while True:
                if in_data:
                    if pending.startswith(b".\r\n"):
                        block, pending = b"", pending[3:]
                    else:
                        end = pending.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        block, pending = pending[:end], pending[end + 5 :]
                    self.data.append(block)
                    in_data = False
                    reply = next(steps, "250 ok (script exhausted)")
                    quit_ = False
                else:
                    end = pending.find(b"\r\n")
                    if end < 0:
                        break
                    line, pending = pending[:end].decode("latin-1"), pending[end + 2 :]
                    self.lines.append(line)
                    quit_ = line.upper() == "QUIT"
                    reply = next(steps, "221 bye" if quit_ else "500 script exhausted")
                if not self._send(conn, reply):
                    return
                if quit_:
                    return
                in_data = isinstance(reply, (str, bytes)) and _text(reply).startswith("354")

    def _send(self, conn: socket.socket, step) -> bool:
        if isinstance(step, tuple):
            return all(self._send(conn, each) for each in step)
        if callable(step):
            return step(conn, self._stop)
        if step is STALL:
            self._stop.wait()
            return False
        if step is CLOSE:
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if step is RESET:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        payload = step.encode("utf-8") if isinstance(step, str) else step
        if isinstance(step, str) and not payload.endswith(b"\n"):
            payload += b"\r\n"
        conn.sendall(payload)
        return True


def _text(step) -> str:
    if isinstance(step, tuple):
        step = next((each for each in step if isinstance(each, (str, bytes))), "")
    if not isinstance(step, (str, bytes)):
        return ""
    return step if isinstance(step, str) else step.decode("latin-1")


# ------------------------------------------------------------------ fast sink


class FastSink:
    """Accepts every command and message on 127.0.0.1, one thread per connection.

    It answers each command line at once (EHLO/HELO 250, DATA 354, QUIT 221
    and close, anything else 250) and, after the data's final dot, "250
    queued". It keeps no message, only counts: ``messages`` and
    ``connections``. Pipelining-safe: every complete line gets its reply.
    """

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.messages = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server((self.host, 0), backlog=128)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="fast-sink", daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self.connections += 1
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.2)
            try:
                conn.sendall(b"220 fast.sink ESMTP\r\n")
                self._converse(conn)
            except OSError:
                pass

    def _converse(self, conn: socket.socket) -> None:
        pending = b""
        in_data = False
        while not self._stop.is_set():
            try:
                chunk = conn.recv(262144)
            except socket.timeout:
                continue
            if not chunk:
                return
            pending += chunk
            replies: list[bytes] = []
            while True:
                if in_data:
                    end = pending.find(b"\r\n.\r\n")
                    if end < 0:
                        pending = pending[-4:]  # all that may hold the start of CRLF.CRLF
                        break
                    pending = pending[end + 5 :]
                    in_data = False
                    with self._lock:
                        self.messages += 1
                    replies.append(b"250 queued")
                    continue
                end = pending.find(b"\r\n")
                if end < 0:
                    break
                verb = pending[:4].upper()
                pending = pending[end + 2 :]
                if verb == b"QUIT":
                    conn.sendall(b"".join(r + b"\r\n" for r in replies) + b"221 bye\r\n")
                    return
                if verb == b"DATA":
                    in_data = True
                    pending = b"\r\n" + pending  # the data's first line may be the dot
                    replies.append(b"354 go ahead")
                else:
                    replies.append(b"250 ok")
            if replies:
                conn.sendall(b"".join(r + b"\r\n" for r in replies))
