"""Poco::Timespan <-> timedelta and Poco::Timestamp <-> datetime (conversions.h).

The private hooks pass a value through C++ and back, which shows exactness;
socket timeouts show the same conversions at work on a real socket, where the
kernel keeps the value in scheduler ticks.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pocosmtp
from pocosmtp import SocketAddress, StreamSocket, _pocosmtp

TIMESPAN_MIN = timedelta(microseconds=-(2**63))  # Poco::Timespan is int64 microseconds
TIMESPAN_MAX = timedelta(microseconds=2**63 - 1)
TICK_MAX = timedelta(milliseconds=10)  # Linux's coarsest clock tick (HZ=100)


@pytest.fixture
def connected() -> Iterator[StreamSocket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sock = StreamSocket(SocketAddress("127.0.0.1", listener.getsockname()[1]))
        yield sock
        sock.close()


# ------------------------------------------------------------------ Timespan


@pytest.mark.parametrize(
    "span",
    [
        timedelta(0),
        timedelta(microseconds=1),
        timedelta(seconds=1, microseconds=1),
        timedelta(seconds=29, microseconds=999_999),
        timedelta(microseconds=-1),  # days=-1, seconds=86399, microseconds=999999
        timedelta(seconds=-1, microseconds=-500_001),
        timedelta(days=-3, hours=5, microseconds=7),
        timedelta(days=10_000, microseconds=123_457),
        TIMESPAN_MAX,
        TIMESPAN_MIN,
    ],
)
def test_timespan_round_trip_is_exact(span: timedelta) -> None:
    assert _pocosmtp._roundtrip_timespan(span) == span


@given(st.timedeltas(min_value=TIMESPAN_MIN, max_value=TIMESPAN_MAX))
def test_every_timespan_round_trips(span: timedelta) -> None:
    assert _pocosmtp._roundtrip_timespan(span) == span


@pytest.mark.parametrize(
    "span",
    [
        TIMESPAN_MAX + timedelta(microseconds=1),
        TIMESPAN_MIN - timedelta(microseconds=1),
        timedelta.max,
        timedelta.min,
    ],
)
def test_timespan_out_of_range_is_refused(span: timedelta) -> None:
    with pytest.raises(ValueError, match="out of range for Poco::Timespan"):
        _pocosmtp._roundtrip_timespan(span)


@pytest.mark.parametrize("bare", [5, 0, 0.5, True, "5", None])
def test_a_bare_value_is_not_a_timespan(bare: Any) -> None:
    # Poco counts microseconds, Python code seconds: a number is never guessed at.
    with pytest.raises(TypeError):
        _pocosmtp._roundtrip_timespan(bare)


# ------------------------------------------------------------------ through a socket


@pytest.mark.parametrize(
    "span",
    [timedelta(seconds=1, milliseconds=500), timedelta(milliseconds=200), timedelta(days=10_000)],
)
def test_whole_ticks_survive_the_kernel(connected: StreamSocket, span: timedelta) -> None:
    connected.setReceiveTimeout(span)
    assert connected.getReceiveTimeout() == span
    connected.setSendTimeout(span)
    assert connected.getSendTimeout() == span


@pytest.mark.parametrize("span", [timedelta(microseconds=7), timedelta(seconds=1, microseconds=1)])
def test_odd_microseconds_round_up_to_a_tick(connected: StreamSocket, span: timedelta) -> None:
    connected.setReceiveTimeout(span)
    got = connected.getReceiveTimeout()
    assert span <= got < span + TICK_MAX


def test_zero_timeout_means_none(connected: StreamSocket) -> None:
    connected.setReceiveTimeout(timedelta(0))
    assert connected.getReceiveTimeout() == timedelta(0)


def test_negative_timeout_is_refused_by_the_socket(connected: StreamSocket) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        connected.setReceiveTimeout(timedelta(microseconds=-1))


def test_out_of_range_timeout_is_refused_by_the_socket(connected: StreamSocket) -> None:
    with pytest.raises(ValueError, match="out of range"):
        connected.setReceiveTimeout(timedelta.max)


@pytest.mark.parametrize("bare", [5, 0.5])
def test_socket_timeouts_refuse_bare_numbers(connected: StreamSocket, bare: Any) -> None:
    for call in (connected.setReceiveTimeout, connected.setSendTimeout):
        with pytest.raises(TypeError):
            call(bare)
    with pytest.raises(TypeError):
        connected.connect(SocketAddress("127.0.0.1", 1), bare)
    with pytest.raises(TypeError):
        connected.poll(bare, pocosmtp.Socket.SELECT_READ)


# ------------------------------------------------------------------ Timestamp


@pytest.mark.parametrize(
    "instant",
    [
        datetime(1970, 1, 1, tzinfo=timezone.utc),
        datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone.utc),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=timezone.utc),  # before the epoch
        datetime(1, 1, 1, tzinfo=timezone.utc),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
    ],
)
def test_timestamp_round_trip_is_exact(instant: datetime) -> None:
    back = _pocosmtp._roundtrip_timestamp(instant)
    assert back == instant
    assert back.tzinfo is timezone.utc


def test_timestamp_comes_back_in_utc() -> None:
    local = datetime(2024, 6, 1, 12, 0, 0, 7, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    back = _pocosmtp._roundtrip_timestamp(local)
    assert back == local
    assert back == datetime(2024, 6, 1, 6, 30, 0, 7, tzinfo=timezone.utc)
    assert back.utcoffset() == timedelta(0)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        _pocosmtp._roundtrip_timestamp(datetime(2024, 1, 1))


@pytest.mark.parametrize("bare", [0, 1.5e9, "2024-01-01"])
def test_a_bare_value_is_not_a_timestamp(bare: Any) -> None:
    with pytest.raises(TypeError):
        _pocosmtp._roundtrip_timestamp(bare)
