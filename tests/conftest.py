"""Fixtures that start real servers on 127.0.0.1 and always stop them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import servers


@pytest.fixture
def smtp_server() -> Iterator[servers.SmtpServer]:
    """aiosmtpd on an ephemeral port, recording what it accepts."""
    server = servers.SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server_factory() -> Iterator[Callable[..., servers.SmtpServer]]:
    """Make aiosmtpd servers with custom settings (keyword arguments of aiosmtpd's SMTP)."""
    started: list[servers.SmtpServer] = []

    def make(handler: servers._Recorder | None = None, **smtp_kwargs: Any) -> servers.SmtpServer:
        server = servers.SmtpServer(handler, **smtp_kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def scripted_peer() -> Iterator[Callable[[list[Any]], servers.ScriptedPeer]]:
    """Factory: ``scripted_peer(script)`` starts a ``servers.ScriptedPeer``."""
    peers: list[servers.ScriptedPeer] = []

    def make(script: list[Any]) -> servers.ScriptedPeer:
        peer = servers.ScriptedPeer(script)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()
