"""The recording peer of the parity harness, and what makes two recordings comparable.

The peer is ``servers.ScriptedPeer`` (tests/servers.py) fed with a scenario's
``server`` replies: it answers each client line with the next reply and keeps
every byte the client sent. ``normalise`` then replaces only what Poco makes
random on purpose, so that two recordings of the same scenario are equal byte
for byte when the clients behave the same:

- MIME boundaries: ``MultipartWriter::createBoundary`` is "MIME_boundary_"
  plus 16 random hex digits; each distinct boundary becomes
  ``MIME_boundary_<n>``, numbered by first appearance, so the structure is
  still compared.
- The Date header, only when a message of the scenario has no fixed date
  (``MailMessage`` stamps the time of its construction).
- The NTLM authenticate message: the LMv2 and NTLMv2 responses hold a random
  client nonce, a timestamp and HMACs over both. Those bytes are zeroed;
  every other field (flags, user, target, lengths, offsets) is compared.

The EHLO host name needs nothing: ``login()`` without a host name sends
``Environment::nodeName()``, and both drivers run on the same machine.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import servers  # noqa: E402  (tests/servers.py, found through the path above)

# Keeps reading and recording but never answers again, so that what a client
# sends after a read timeout (QUIT, or nothing) is recorded too. servers.STALL
# stops reading as well.
MUTE = servers._Marker("MUTE")
MARKERS = {
    "@CLOSE": servers.CLOSE,
    "@STALL": servers.STALL,
    "@RESET": servers.RESET,
    "@MUTE": MUTE,
}


class RecordingPeer(servers.ScriptedPeer):
    """ScriptedPeer plus the ``MUTE`` marker; everything else behaves as in servers.py."""

    def __init__(self, script: list) -> None:
        self._muted = False  # before the base class starts the serving thread
        super().__init__(script)

    def _send(self, conn, step) -> bool:
        if step is MUTE or self._muted:
            self._muted = True
            return True
        return super()._send(conn, step)


def script_of(replies: list) -> list:
    """The scenario's ``server`` list as a ScriptedPeer script.

    An entry is a reply line (CRLF added), a list of lines (a multi-line
    reply, joined with CRLF), ``{"raw": text}`` (sent as Latin-1 bytes, no
    CRLF added) or one of the markers ``@CLOSE``, ``@STALL``, ``@RESET``,
    ``@MUTE``.
    """
    script: list = []
    for entry in replies:
        if isinstance(entry, list):
            script.append("\r\n".join(entry))
        elif isinstance(entry, dict):
            script.append(entry["raw"].encode("latin-1"))
        elif entry in MARKERS:
            script.append(MARKERS[entry])
        else:
            script.append(entry)
    return script


class Recording:
    """A ScriptedPeer playing one scenario; ``finish()`` returns what the client sent."""

    def __init__(self, replies: list) -> None:
        self.script = script_of(replies)
        self.peer = RecordingPeer(self.script)
        self.port = self.peer.port

    def finish(self, timeout: float = 2.0) -> bytes:
        """Waits for the client to hang up (unless the script stalls), stops the peer."""
        try:
            if servers.STALL not in self.script and self.peer.connections:
                self.peer.wait_closed(timeout)
        finally:
            self.peer.stop()
        return bytes(self.peer.received)

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        self.peer.stop()


# ------------------------------------------------------------------ normalising

_BOUNDARY = re.compile(rb"MIME_boundary_[0-9A-Fa-f]{16}")
_DATE = re.compile(rb"^Date: [^\r\n]*\r\n", re.MULTILINE)


def normalise(recording: bytes, *, fixed_date: bool = True) -> bytes:
    """Replaces what is random by design; see the module docstring."""
    numbers: dict[bytes, bytes] = {}

    def boundary(match: re.Match) -> bytes:
        return numbers.setdefault(match.group(0), b"MIME_boundary_<%d>" % (len(numbers) + 1))

    out = _BOUNDARY.sub(boundary, recording)
    if not fixed_date:
        out = _DATE.sub(b"Date: <date of construction>\r\n", out)
    return b"\r\n".join(_ntlm_line(line) for line in out.split(b"\r\n"))


def _ntlm_line(line: bytes) -> bytes:
    if not line.startswith(b"TlRMTVNT"):  # base64 of "NTLMSS"
        return line
    try:
        message = bytearray(base64.b64decode(line, validate=True))
    except (binascii.Error, ValueError):
        return line
    if len(message) < 64 or message[:8] != b"NTLMSSP\0" or message[8:12] != b"\3\0\0\0":
        return line  # not an authenticate message (negotiate is deterministic)
    lm_len, _, lm_off = struct.unpack_from("<HHI", message, 12)
    nt_len, _, nt_off = struct.unpack_from("<HHI", message, 20)
    # LMv2: HMAC (16) + client nonce (8), all of it random.
    message[lm_off : lm_off + lm_len] = bytes(lm_len)
    # NTLMv2: HMAC (16), 0x0101, reserved, timestamp (8), nonce (8), ...
    if nt_len >= 40:
        message[nt_off : nt_off + 16] = bytes(16)
        message[nt_off + 24 : nt_off + 40] = bytes(16)
    return b"<NTLM authenticate, nonces zeroed> " + base64.b64encode(bytes(message))


# ------------------------------------------------------------------ showing

def readable_lines(recording: bytes) -> list[str]:
    """One str per CRLF-terminated line, control characters escaped (a bare LF shows)."""
    lines = recording.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    else:
        lines[-1] += b"<no final CRLF>"
    return [_escape(line) for line in lines]


def _escape(line: bytes) -> str:
    text = line.decode("latin-1")
    if all(ch == "\t" or " " <= ch <= "~" for ch in text):
        return text
    return repr(text)[1:-1]
