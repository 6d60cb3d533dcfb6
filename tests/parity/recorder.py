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
import hmac
import re
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import servers

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


def ntlm_authenticate_lines(recording: bytes) -> list[bytes]:
    """The decoded NTLM authenticate messages (type 3) the client sent."""
    found = []
    for line in recording.split(b"\r\n"):
        if line.startswith(b"TlRMTVNT"):
            message = base64.b64decode(line)
            if message[8:12] == b"\3\0\0\0":
                found.append(message)
    return found


def ntlm_responses_valid(message: bytes, password: str, challenge: bytes) -> bool:
    """Whether the LMv2 and NTLMv2 responses in an authenticate message fit the password.

    Normalising zeroes these fields, so this checks what the comparison cannot:
    each side computed them right (MS-NLMP 3.3.2), for the user and target it sent.
    """

    def field(offset: int) -> bytes:
        length, _, start = struct.unpack_from("<HHI", message, offset)
        return message[start : start + length]

    lm, nt, target, user = field(12), field(20), field(28), field(36)
    key = _md4(password.encode("utf-16-le"))
    user_domain = user.decode("utf-16-le").upper().encode("utf-16-le") + target
    v2_hash = hmac.new(key, user_domain, "md5").digest()
    lm_ok = hmac.new(v2_hash, challenge + lm[16:], "md5").digest() == lm[:16]
    nt_ok = hmac.new(v2_hash, challenge + nt[16:], "md5").digest() == nt[:16]
    return len(lm) == 24 and lm_ok and nt_ok


def _md4(data: bytes) -> bytes:
    """RFC 1320 MD4; OpenSSL 3 no longer offers it to hashlib, NTLM still needs it."""

    def rotl(x: int, n: int) -> int:
        x &= 0xFFFFFFFF
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    length = len(data) * 8
    data += b"\x80" + bytes((55 - len(data)) % 64) + struct.pack("<Q", length)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for block in range(0, len(data), 64):
        x = struct.unpack_from("<16I", data, block)
        aa, bb, cc, dd = a, b, c, d
        for i in (0, 4, 8, 12):  # round 1: F(x, y, z) = xy | ~xz
            a = rotl(a + ((b & c) | (~b & d)) + x[i], 3)
            d = rotl(d + ((a & b) | (~a & c)) + x[i + 1], 7)
            c = rotl(c + ((d & a) | (~d & b)) + x[i + 2], 11)
            b = rotl(b + ((c & d) | (~c & a)) + x[i + 3], 19)
        for i in (0, 1, 2, 3):  # round 2: G(x, y, z) = xy | xz | yz
            a = rotl(a + ((b & c) | (b & d) | (c & d)) + x[i] + 0x5A827999, 3)
            d = rotl(d + ((a & b) | (a & c) | (b & c)) + x[i + 4] + 0x5A827999, 5)
            c = rotl(c + ((d & a) | (d & b) | (a & b)) + x[i + 8] + 0x5A827999, 9)
            b = rotl(b + ((c & d) | (c & a) | (d & a)) + x[i + 12] + 0x5A827999, 13)
        for i in (0, 2, 1, 3):  # round 3: H(x, y, z) = x ^ y ^ z
            a = rotl(a + (b ^ c ^ d) + x[i] + 0x6ED9EBA1, 3)
            d = rotl(d + (a ^ b ^ c) + x[i + 8] + 0x6ED9EBA1, 9)
            c = rotl(c + (d ^ a ^ b) + x[i + 4] + 0x6ED9EBA1, 11)
            b = rotl(b + (c ^ d ^ a) + x[i + 12] + 0x6ED9EBA1, 15)
        a, b = (a + aa) & 0xFFFFFFFF, (b + bb) & 0xFFFFFFFF
        c, d = (c + cc) & 0xFFFFFFFF, (d + dd) & 0xFFFFFFFF
    return struct.pack("<4I", a, b, c, d)


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
