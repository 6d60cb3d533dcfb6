"""pocosmtp.aio: sessions under asyncio, against real servers on 127.0.0.1.

The claims under test: blocking calls run in a thread pool with the GIL
released, so many sends overlap; a cancelled or timed-out call leaves the
session closed (never half-used), and closing waits for that.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

import pocosmtp
import servers
from pocosmtp import MailMessage, MailRecipient, StringPartSource
from pocosmtp.aio import AsyncSession

DELAY = 0.3  # seconds the slow server waits before each reply


class SlowRecorder(servers._Recorder):
    """Records messages like the plain server, answering EHLO, MAIL, RCPT and
    the end of data only after DELAY seconds each."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        await asyncio.sleep(DELAY)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        await asyncio.sleep(DELAY)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        await asyncio.sleep(DELAY)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(DELAY)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_server():
    server = servers.SmtpServer(SlowRecorder()).start()
    yield server
    server.stop()


def message(number: int) -> MailMessage:
    mail = MailMessage()
    mail.setSender("async@example.org")
    mail.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, f"rcpt{number}@example.org"))
    mail.setSubject(f"message {number}")
    mail.addContent(StringPartSource(f"body {number}\r\n"))
    return mail


async def send_one(server: servers.SmtpServer, number: int) -> None:
    async with await AsyncSession.connect(server.host, server.port) as session:
        await session.login()
        await session.sendMessage(message(number))


# ------------------------------------------------------------------ concurrency


def test_twenty_concurrent_sends_take_about_as_long_as_one(slow_server):
    async def measure() -> tuple[float, float]:
        started = time.monotonic()
        await send_one(slow_server, 0)
        one = time.monotonic() - started

        started = time.monotonic()
        await asyncio.gather(*(send_one(slow_server, n) for n in range(1, 21)))
        return one, time.monotonic() - started

    one, twenty = asyncio.run(measure())

    assert one >= 4 * DELAY  # EHLO, MAIL, RCPT and the end of data each waited
    # One after the other would take 20 times as long; allow a wide margin for
    # a loaded machine, far below that.
    assert twenty < 5 * one, f"one send {one:.2f} s, twenty concurrent {twenty:.2f} s"
    received = slow_server.wait_for(21)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(
        f"rcpt{n}@example.org" for n in range(21)
    )


def test_the_event_loop_stays_free_during_a_call(slow_server):
    async def ticks_during_send() -> int:
        count = 0

        async def tick() -> None:
            nonlocal count
            while True:
                await asyncio.sleep(0.01)
                count += 1

        ticker = asyncio.ensure_future(tick())
        await send_one(slow_server, 1)
        ticker.cancel()
        return count

    # About 4 * DELAY of waiting: a blocked loop would tick a few times at most.
    assert asyncio.run(ticks_during_send()) > 30


# ------------------------------------------------------------------ cancellation


def test_a_cancelled_connect_closes_the_session_it_still_makes(scripted_peer):
    peer = scripted_peer(["220 peer.test ESMTP"])

    def slow_connect(host: str, port: int) -> pocosmtp.SMTPClientSession:
        time.sleep(DELAY)
        return pocosmtp.SMTPClientSession(host, port)

    async def scenario() -> None:
        connecting = AsyncSession.connect(peer.host, peer.port, session_class=slow_connect)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(connecting, 0.05)
        await asyncio.sleep(2 * DELAY)  # the connect ends in its thread meanwhile

    asyncio.run(scenario())

    # Closed by pocosmtp.aio, not collected while open (which would warn).
    peer.wait_closed()
    assert peer.connections == 1
    assert peer.lines == []


def test_a_timed_out_call_leaves_the_session_closed(scripted_peer):
    peer = scripted_peer(["220 peer.test ESMTP", servers.STALL])

    async def scenario() -> AsyncSession:
        session = await AsyncSession.connect(peer.host, peer.port)
        await session.setTimeout(timedelta(seconds=1))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(session.login(), 0.2)

        # At once, without waiting for the stuck call: the session is closed.
        with pytest.raises(pocosmtp.IllegalStateException, match="login\\(\\) was cancelled"):
            await session.sendCommand("NOOP")
        assert repr(session).endswith("> closing>") or repr(session).endswith(" closed>>")

        started = time.monotonic()
        await session.close()  # waits for the call to end (read timeout), then closes
        assert time.monotonic() - started < 5
        await session.close()  # a second close does nothing
        return session

    session = asyncio.run(scenario())

    assert repr(session.session).endswith(" closed>")
    assert not any(line.startswith("NOOP") for line in peer.lines)  # never reused
    with pytest.raises(pocosmtp.IllegalStateException):
        session.session.login()


def test_a_cancelled_send_is_not_recalled_and_the_session_ends_closed(slow_server):
    async def scenario() -> AsyncSession:
        session = await AsyncSession.connect(slow_server.host, slow_server.port)
        async with session:
            await session.login()
            sending = asyncio.ensure_future(session.sendMessage(message(7)))
            await asyncio.sleep(DELAY / 2)  # inside MAIL FROM
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending
        return session

    session = asyncio.run(scenario())

    # Poco cannot be stopped half way: the send ran to its end in its thread,
    # and leaving the block waited for that, then closed the session.
    assert repr(session.session).endswith(" closed>")
    (received,) = slow_server.wait_for(1)
    assert received.rcpt_tos == ["rcpt7@example.org"]
    with pytest.raises(pocosmtp.IllegalStateException, match="cancelled"):
        asyncio.run(session.login())


def test_the_session_read_timeout_raises_timeout_error(scripted_peer):
    peer = scripted_peer(["220 peer.test ESMTP", servers.STALL])

    async def scenario() -> tuple[float, AsyncSession]:
        session = await AsyncSession.connect(peer.host, peer.port)
        await session.setTimeout(timedelta(seconds=0.5))
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await session.login()
        elapsed = time.monotonic() - started
        # The late reply could pass for the next one's, so the timeout closed
        # the session without QUIT: close() returns at once.
        closing = time.monotonic()
        await session.close()
        assert time.monotonic() - closing < 0.4
        return elapsed, session

    elapsed, session = asyncio.run(scenario())
    assert elapsed < 3
    assert repr(session).endswith(" closed>>")


# ------------------------------------------------------------------ idioms


def test_async_with_closes_and_repr_says_so(smtp_server):
    async def scenario() -> AsyncSession:
        async with await AsyncSession.connect(smtp_server.host, smtp_server.port) as session:
            assert repr(session) == f"<AsyncSession {session.session!r}>"
            await session.login()
            assert await session.sendCommand("NOOP") == (250, "250 OK")
        return session

    session = asyncio.run(scenario())
    assert repr(session).endswith(" closed>>")
    with pytest.raises(pocosmtp.IllegalStateException, match="close\\(\\) was called"):
        asyncio.run(session.sendCommand("NOOP"))


def test_names_are_pocos_and_unknown_ones_raise_attribute_error(smtp_server):
    async def scenario() -> None:
        async with await AsyncSession.connect(smtp_server.host, smtp_server.port) as session:
            assert session.sendMessage.__name__ == "sendMessage"
            with pytest.raises(AttributeError):
                session.send_message  # noqa: B018  (no second name for Poco's method)

    asyncio.run(scenario())


def test_an_error_in_the_block_wins_over_closing(scripted_peer):
    peer = scripted_peer(["220 peer.test ESMTP", servers.CLOSE])

    async def scenario() -> None:
        async with await AsyncSession.connect(peer.host, peer.port) as session:
            await session.setTimeout(timedelta(seconds=2))
            raise LookupError("the block's own error")

    with pytest.raises(LookupError, match="own error"):
        asyncio.run(scenario())
