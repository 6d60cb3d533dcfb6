"""SMTPClientSession and threads: the GIL is free while Poco waits, one session
is never talked to by two threads at once, and freeing a session never freezes
the interpreter."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

import pocosmtp
import servers
from pocosmtp import SMTPClientSession

GREETING = "220 peer.test ESMTP"


class Counter(threading.Thread):
    """Counts in pure Python until stopped: it only advances while it gets the GIL."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.count += 1

    def __enter__(self) -> Counter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.halt.set()
        self.join(5)


def test_gil_is_released_while_waiting_for_a_reply(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    peer = scripted_peer([GREETING, servers.STALL])
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=1))
    outcome: list[BaseException] = []

    def wait_for_reply() -> None:
        try:
            session.login("client.example")
        except BaseException as error:
            outcome.append(error)

    waiter = threading.Thread(target=wait_for_reply)
    waiter.start()
    time.sleep(0.2)  # let the waiter block inside Poco
    before = time.monotonic()
    counted = 0
    while time.monotonic() - before < 0.3:
        counted += 1
    assert waiter.is_alive(), "login returned before the main thread could count"
    waiter.join(5)
    assert counted > 10_000
    assert len(outcome) == 1 and isinstance(outcome[0], TimeoutError)


def test_freeing_a_session_whose_server_stalls_does_not_block_other_threads(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    peer = scripted_peer([GREETING, "250 ok", servers.STALL])
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=1))
    session.login("client.example")
    with Counter() as counter:
        time.sleep(0.05)
        started = time.monotonic()
        before = counter.count
        with pytest.warns(ResourceWarning, match="unclosed <SMTPClientSession"):
            del session  # Poco's destructor sends QUIT and waits for the reply
            gc.collect()
        elapsed = time.monotonic() - started
        during = counter.count - before
    assert 0.9 < elapsed < 3, "the destructor should have waited for the QUIT reply"
    assert during > 10_000
    assert peer.lines == ["EHLO client.example", "QUIT"]


def test_one_session_used_by_two_threads_keeps_the_dialogue_in_step(
    scripted_peer: Callable[..., servers.ScriptedPeer],
) -> None:
    per_thread = 100
    replies = [f"250 reply {n}" for n in range(2 * per_thread)]
    peer = scripted_peer([GREETING, *replies])
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=2))
    session.open()
    results: dict[str, list[tuple[int, str]]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def talk(name: str) -> None:
        try:
            for _ in range(per_thread):
                results[name].append(session.sendCommand("NOOP", name))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=talk, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    got = results["a"] + results["b"]
    # Every reply was read exactly once, whole, by the thread that asked.
    assert sorted(reply for _, reply in got) == sorted(replies)
    assert all(status == 250 for status, _ in got)
    assert sorted(peer.lines) == sorted(["NOOP a"] * per_thread + ["NOOP b"] * per_thread)
    session.close()


@pytest.mark.parametrize("call", ["close", "sendCommand"])
def test_second_thread_waits_for_the_first_without_holding_the_gil(
    scripted_peer: Callable[..., servers.ScriptedPeer], call: str
) -> None:
    peer = scripted_peer([servers.STALL])  # not even a greeting
    session = SMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(timedelta(seconds=1))
    outcome: dict[str, BaseException] = {}

    def first() -> None:
        try:
            session.open()
        except BaseException as error:
            outcome["first"] = error

    opener = threading.Thread(target=first)
    opener.start()
    time.sleep(0.2)  # the opener now holds the session's lock
    second_done = threading.Event()

    def second() -> None:
        try:
            session.close() if call == "close" else session.sendCommand("NOOP")
        except Exception as error:
            outcome["second"] = error
        second_done.set()

    threading.Thread(target=second, daemon=True).start()
    with Counter() as counter:
        time.sleep(0.3)
        assert not second_done.is_set(), "the second call did not wait for the first"
        assert counter.count > 10_000
    opener.join(5)
    assert second_done.wait(5)
    assert isinstance(outcome["first"], TimeoutError)
    # The timeout left the dialogue out of step, so the session was closed
    # without QUIT: close() then does nothing and sendCommand() refuses.
    if call == "sendCommand":
        assert isinstance(outcome["second"], pocosmtp.IllegalStateException)
        assert "Timeout" in str(outcome["second"])
    else:
        assert "second" not in outcome
    assert peer.received == b""
