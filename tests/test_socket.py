"""SocketAddress, Socket and StreamSocket against real sockets on 127.0.0.1."""

from __future__ import annotations

import errno
import socket
import threading
import time
from datetime import timedelta

import pytest

import pocosmtp
import servers
from pocosmtp import SocketAddress, StreamSocket

SHORT = timedelta(milliseconds=200)


@pytest.fixture
def listener():
    """A listening socket that accepts nothing and says nothing."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


def address_of(sock: socket.socket) -> SocketAddress:
    host, port = sock.getsockname()[:2]
    return SocketAddress(host, port)


class EchoServer:
    """Accepts one connection and sends back everything it receives."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = address_of(self._listener)
        self._thread = threading.Thread(target=self._serve, name="echo", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:  # stop() came first: the client never connected
            return
        with conn:
            while chunk := conn.recv(65536):
                conn.sendall(chunk)

    def stop(self) -> None:
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.stop()


def receive_exactly(sock: StreamSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.receiveBytes(size - len(data))
        assert chunk, "the peer closed early"
        data += chunk
    return data


# ------------------------------------------------------------------ SocketAddress


def test_address_from_host_and_port():
    address = SocketAddress("127.0.0.1", 2525)
    assert address.host() == "127.0.0.1"
    assert address.port() == 2525
    assert address.family() == SocketAddress.Family.IPv4
    assert address.toString() == str(address) == "127.0.0.1:2525"


def test_address_forms_agree():
    assert SocketAddress("127.0.0.1:2525") == SocketAddress("127.0.0.1", 2525)
    assert SocketAddress("127.0.0.1", "2525") == SocketAddress("127.0.0.1", 2525)
    assert SocketAddress(SocketAddress.Family.IPv4, "127.0.0.1", 2525) == SocketAddress(
        "127.0.0.1", 2525
    )
    assert SocketAddress(2525) == SocketAddress("0.0.0.0", 2525)
    assert SocketAddress() == SocketAddress("0.0.0.0", 0)


def test_ipv6_address():
    address = SocketAddress("[::1]:2525")
    assert address.host() == "::1"
    assert address.port() == 2525
    assert address.family() == SocketAddress.Family.IPv6
    assert str(address) == "[::1]:2525"


def test_address_equality_hash_and_order():
    a, same = SocketAddress("127.0.0.1:25"), SocketAddress("127.0.0.1:25")
    other = SocketAddress("127.0.0.1:26")
    assert a == same and not (a != same)
    assert a != other and not (a == other)
    assert hash(a) == hash(same)
    assert len({a, same, other}) == 2
    assert a < other
    assert a != "127.0.0.1:25"  # no implicit conversion


@pytest.mark.parametrize("text", ["127.0.0.1:25", "[::1]:587"])
def test_address_repr_evaluates_back(text):
    address = SocketAddress(text)
    assert repr(address) == f"SocketAddress({text!r})"
    assert eval(repr(address), {"SocketAddress": SocketAddress}) == address


def test_malformed_address_raises_poco_errors():
    with pytest.raises(pocosmtp.InvalidArgumentException, match="Missing port number"):
        SocketAddress("127.0.0.1")
    with pytest.raises(pocosmtp.InvalidArgumentException, match="Malformed IPv6 address"):
        SocketAddress("[::1:25")
    with pytest.raises(pocosmtp.ServiceNotFoundException):
        SocketAddress("127.0.0.1", "no-such-service")
    with pytest.raises(pocosmtp.AddressFamilyMismatchException):
        SocketAddress(SocketAddress.Family.IPv6, "127.0.0.1", 25)


def test_port_out_of_range_is_refused():
    with pytest.raises(TypeError):
        SocketAddress("127.0.0.1", 70000)


# ------------------------------------------------------------------ connecting


def test_socket_is_abstract():
    with pytest.raises(TypeError):
        pocosmtp.Socket()
    assert issubclass(StreamSocket, pocosmtp.Socket)


def test_refused_connection_is_connection_refused_error():
    closed = servers.free_port()
    with pytest.raises(ConnectionRefusedError) as caught:
        StreamSocket(SocketAddress("127.0.0.1", closed))
    exc = caught.value
    assert type(exc) is pocosmtp.ConnectionRefusedException
    assert exc.code() == errno.ECONNREFUSED
    assert str(exc) == f"Connection refused: 127.0.0.1:{closed}"


def test_refused_connect_with_timeout():
    sock = StreamSocket()
    with pytest.raises(pocosmtp.ConnectionRefusedException):
        sock.connect(SocketAddress("127.0.0.1", servers.free_port()), timedelta(seconds=2))


def test_connect_sets_both_addresses(listener):
    sock = StreamSocket(SocketAddress.Family.IPv4)
    assert repr(sock) == "<StreamSocket unconnected>"
    sock.connect(address_of(listener), timedelta(seconds=2))
    accepted, peer = listener.accept()
    with accepted:
        assert sock.peerAddress() == address_of(listener)
        assert sock.address() == SocketAddress(*peer[:2])
        assert repr(sock) == f"<StreamSocket {sock.address()} -> {sock.peerAddress()}>"
        sock.close()
    assert repr(sock) == "<StreamSocket unconnected>"


def test_unconnected_socket_has_no_peer():
    with pytest.raises(pocosmtp.NetException):
        StreamSocket(SocketAddress.Family.IPv4).peerAddress()


def test_connect_nb_then_poll(listener):
    sock = StreamSocket()
    sock.connectNB(address_of(listener))
    assert sock.getBlocking() is False
    assert sock.poll(timedelta(seconds=2), pocosmtp.Socket.SELECT_WRITE)
    sock.setBlocking(True)
    assert sock.peerAddress() == address_of(listener)
    sock.close()


def test_context_manager_closes(listener):
    with StreamSocket(address_of(listener)) as sock:
        accepted, _ = listener.accept()
        assert sock.peerAddress() == address_of(listener)
    with accepted:
        accepted.settimeout(2)
        assert accepted.recv(1) == b""  # the client's FIN
    assert repr(sock) == "<StreamSocket unconnected>"


def test_sockets_compare_by_connection(listener):
    a = StreamSocket(address_of(listener))
    b = StreamSocket(address_of(listener))
    assert a == a and a != b
    assert hash(a) == hash(a)
    a.close()
    b.close()


# ------------------------------------------------------------------ data


def test_send_and_receive_bytes(echo):
    with StreamSocket(echo.address) as sock:
        assert sock.sendBytes(b"EHLO client.test\r\n") == 18
        assert receive_exactly(sock, 18) == b"EHLO client.test\r\n"


def test_send_accepts_any_bytes_like(echo):
    payload = bytes(range(256)) * 512  # 128 KiB with every byte value
    with StreamSocket(echo.address) as sock:
        assert sock.sendBytes(bytearray(payload[:1000])) == 1000
        assert sock.sendBytes(memoryview(payload)[1000:]) == len(payload) - 1000
        assert receive_exactly(sock, len(payload)) == payload


def test_send_refuses_text(echo):
    with StreamSocket(echo.address) as sock, pytest.raises(TypeError):
        sock.sendBytes("text")  # type: ignore[arg-type]


def test_receive_returns_empty_bytes_after_peer_shutdown(listener):
    with StreamSocket(address_of(listener)) as sock:
        accepted, _ = listener.accept()
        with accepted:
            accepted.sendall(b"221 bye\r\n")
            accepted.shutdown(socket.SHUT_WR)
            assert receive_exactly(sock, 9) == b"221 bye\r\n"
            assert sock.receiveBytes(100) == b""


def test_shutdown_send_is_seen_by_the_peer(listener):
    with StreamSocket(address_of(listener)) as sock:
        accepted, _ = listener.accept()
        with accepted:
            sock.sendBytes(b"QUIT\r\n")
            sock.shutdownSend()
            accepted.settimeout(2)
            received = b""
            while chunk := accepted.recv(100):
                received += chunk
            assert received == b"QUIT\r\n"
            accepted.sendall(b"221 bye\r\n")  # the other direction still works
            assert receive_exactly(sock, 9) == b"221 bye\r\n"


def test_available_counts_waiting_bytes(listener):
    with StreamSocket(address_of(listener)) as sock:
        accepted, _ = listener.accept()
        with accepted:
            assert sock.available() == 0
            assert not sock.poll(timedelta(milliseconds=50), pocosmtp.Socket.SELECT_READ)
            accepted.sendall(b"12345")
            assert sock.poll(timedelta(seconds=2), pocosmtp.Socket.SELECT_READ)
            assert sock.available() == 5


def test_receive_on_non_blocking_socket_without_data_is_none(listener):
    with StreamSocket(address_of(listener)) as sock:
        accepted, _ = listener.accept()
        with accepted:
            sock.setBlocking(False)
            assert sock.receiveBytes(10) is None


def test_negative_length_is_refused(listener):
    with StreamSocket(address_of(listener)) as sock, pytest.raises(ValueError):
        sock.receiveBytes(-1)


def test_receive_on_closed_socket_raises(listener):
    sock = StreamSocket(address_of(listener))
    sock.close()
    with pytest.raises(pocosmtp.InvalidSocketException):
        sock.receiveBytes(1)


# ------------------------------------------------------------------ options and timeouts


def test_options_round_trip(listener):
    with StreamSocket(address_of(listener)) as sock:
        for flag in (True, False):
            sock.setNoDelay(flag)
            assert sock.getNoDelay() is flag
            sock.setKeepAlive(flag)
            assert sock.getKeepAlive() is flag
        assert sock.secure() is False


def test_receive_timeout_against_a_silent_peer(listener):
    with StreamSocket(address_of(listener)) as sock:
        sock.setReceiveTimeout(SHORT)
        assert sock.getReceiveTimeout() == SHORT
        started = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            sock.receiveBytes(10)
        elapsed = time.monotonic() - started
    assert type(caught.value) is pocosmtp.TimeoutException
    assert caught.value.code() == errno.EAGAIN
    assert 0.15 < elapsed < 2


def test_send_timeout_round_trips(listener):
    with StreamSocket(address_of(listener)) as sock:
        sock.setSendTimeout(timedelta(seconds=3))
        assert sock.getSendTimeout() == timedelta(seconds=3)


@pytest.mark.parametrize("setter", ["setReceiveTimeout", "setSendTimeout"])
def test_negative_timeout_is_refused(listener, setter):
    # Linux would take -1 s as "no timeout" and -1.5 s as EDOM.
    with StreamSocket(address_of(listener)) as sock:
        sock.setReceiveTimeout(SHORT)
        sock.setSendTimeout(SHORT)
        for bad in (timedelta(seconds=-1), timedelta(microseconds=-1)):
            with pytest.raises(ValueError, match="must not be negative"):
                getattr(sock, setter)(bad)
        assert sock.getReceiveTimeout() == SHORT
        assert sock.getSendTimeout() == SHORT


def test_negative_connect_and_poll_timeouts_are_refused(listener):
    sock = StreamSocket()
    with pytest.raises(ValueError, match="must not be negative"):
        sock.connect(address_of(listener), timedelta(seconds=-1))
    with pytest.raises(ValueError, match="must not be negative"):
        sock.poll(timedelta(seconds=-1), pocosmtp.Socket.SELECT_READ)


# ------------------------------------------------------------------ the GIL


def test_blocking_receive_lets_python_threads_run(listener):
    sock = StreamSocket(address_of(listener))
    sock.setReceiveTimeout(timedelta(seconds=5))
    accepted, _ = listener.accept()
    result: list[object] = []
    entered = threading.Event()

    def receive() -> None:
        entered.set()
        try:
            result.append(sock.receiveBytes(100))
        except Exception as exc:  # the assertion below shows it
            result.append(exc)

    worker = threading.Thread(target=receive)
    started = time.monotonic()
    worker.start()
    entered.wait(2)
    # This thread needs the GIL for every line below: were it held by the
    # blocked receive, the reply would come only after the 5 s timeout.
    ticks = 0
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        ticks += 1
    accepted.sendall(b"250 ok\r\n")
    worker.join(10)
    elapsed = time.monotonic() - started
    with accepted:
        sock.close()
    assert result == [b"250 ok\r\n"]
    assert ticks > 1000
    assert elapsed < 2
