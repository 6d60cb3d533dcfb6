"""Server-side SMTP authentication for the login tests, written from the RFCs.

``AuthHandler`` is an aiosmtpd handler (it also records messages, like the
plain test server) whose ``auth_<MECH>`` hooks replace aiosmtpd's own, so each
mechanism checks what the client sent against ``credentials`` independently
of the client under test:

- PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login): the password itself;
- CRAM-MD5 (RFC 2195) and CRAM-SHA1: an HMAC of a fresh challenge;
- XOAUTH2 (Google's SASL profile): ``user=...\\x01auth=Bearer <token>\\x01\\x01``,
  the password being the token;
- NTLM ([MS-NLMP], NTLMv2 only): the NTProofStr of the type-3 message,
  recomputed from the password.

Every attempt is appended to ``attempts`` as ``(mechanism, user, accepted)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from aiosmtpd.smtp import AuthResult, LoginPassword

import servers

INVALID = "535 5.7.8 Authentication credentials invalid"


class AuthHandler(servers._Recorder):
    def __init__(self, credentials: dict[str, str]) -> None:
        super().__init__()
        self.credentials = credentials
        self.attempts: list[tuple[str, str, bool]] = []

    def _result(self, mechanism: str, user: str, accepted: bool) -> AuthResult:
        self.attempts.append((mechanism, user, accepted))
        if not accepted:
            return AuthResult(success=False, handled=False, message=INVALID)
        return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))

    def _password_ok(self, user: str, password: str) -> bool:
        expected = self.credentials.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    # -- mechanisms; aiosmtpd maps auth_CRAM__MD5 to "CRAM-MD5"

    async def auth_PLAIN(self, server, args):  # noqa: N802 (aiosmtpd's naming)
        blob = base64.b64decode(args[1]) if len(args) > 1 else await server.challenge_auth("")
        _authzid, user, password = blob.decode().split("\0")
        return self._result("PLAIN", user, self._password_ok(user, password))

    async def auth_LOGIN(self, server, args):  # noqa: N802
        # "Username:" / "Password:" are the prompts clients recognise; Poco
        # compares the first eight characters of the decoded prompt.
        user = (await server.challenge_auth("Username:")).decode()
        password = (await server.challenge_auth("Password:")).decode()
        return self._result("LOGIN", user, self._password_ok(user, password))

    async def _cram(self, server, mechanism: str, digest) -> AuthResult:
        challenge = f"<{os.urandom(8).hex()}@pocosmtp.test>".encode()
        user, _, answer = (await server.challenge_auth(challenge)).decode().rpartition(" ")
        secret = self.credentials.get(user)
        expected = hmac.new((secret or "").encode(), challenge, digest).hexdigest()
        return self._result(mechanism, user, secret is not None and answer == expected)

    async def auth_CRAM__MD5(self, server, args):  # noqa: N802
        return await self._cram(server, "CRAM-MD5", hashlib.md5)

    async def auth_CRAM__SHA1(self, server, args):  # noqa: N802
        return await self._cram(server, "CRAM-SHA1", hashlib.sha1)

    async def auth_XOAUTH2(self, server, args):  # noqa: N802
        blob = base64.b64decode(args[1]).decode()
        fields = blob.split("\x01")
        assert fields[-2:] == ["", ""], f"XOAUTH2 blob not closed by ^A^A: {blob!r}"
        user = fields[0].removeprefix("user=")
        token = fields[1].removeprefix("auth=Bearer ")
        return self._result("XOAUTH2", user, self._password_ok(user, token))

    async def auth_NTLM(self, server, args):  # noqa: N802
        negotiate = base64.b64decode(args[1])
        assert negotiate[:12] == b"NTLMSSP\0" + struct.pack("<I", 1), negotiate
        challenge = os.urandom(8)
        type3 = await server.challenge_auth(ntlm_challenge(challenge, NTLM_TARGET))
        user, accepted = ntlm_check(type3, challenge, NTLM_TARGET, self.credentials)
        return self._result("NTLM", user, accepted)


# ------------------------------------------------------------------ NTLM

NTLM_TARGET = "POCOTEST"
_UNICODE, _NTLM, _TARGET_DOMAIN, _NTLM2_KEY, _TARGET_INFO = (0x1, 0x200, 0x10000, 0x80000, 0x800000)


def ntlm_challenge(challenge: bytes, target: str) -> bytes:
    """A type-2 (CHALLENGE) message with NTLMv2 session security offered."""
    target_bytes = target.encode("utf-16-le")
    # AV pairs: MsvAvNbDomainName, then MsvAvEOL.
    info = struct.pack("<HH", 2, len(target_bytes)) + target_bytes + struct.pack("<HH", 0, 0)
    flags = _UNICODE | _NTLM | _TARGET_DOMAIN | _NTLM2_KEY | _TARGET_INFO
    header = 48
    return (
        b"NTLMSSP\0"
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target_bytes), len(target_bytes), header)
        + struct.pack("<I", flags)
        + challenge
        + bytes(8)
        + struct.pack("<HHI", len(info), len(info), header + len(target_bytes))
        + target_bytes
        + info
    )


def ntlm_check(
    message: bytes, challenge: bytes, target: str, credentials: dict[str, str]
) -> tuple[str, bool]:
    """Reads the user of a type-3 (AUTHENTICATE) message and verifies its NTLMv2 proof."""
    assert message[:12] == b"NTLMSSP\0" + struct.pack("<I", 3), message[:12]

    def field(index: int) -> bytes:
        length, _, offset = struct.unpack_from("<HHI", message, 12 + 8 * index)
        return message[offset : offset + length]

    nt_response = field(1)
    user = field(3).decode("utf-16-le")
    password = credentials.get(user)
    if password is None or len(nt_response) < 16:
        return user, False
    password_hash = md4(password.encode("utf-16-le"))
    v2_hash = hmac.new(
        password_hash, (user.upper() + target).encode("utf-16-le"), hashlib.md5
    ).digest()
    proof, blob = nt_response[:16], nt_response[16:]
    expected = hmac.new(v2_hash, challenge + blob, hashlib.md5).digest()
    return user, hmac.compare_digest(proof, expected)


def md4(data: bytes) -> bytes:
    """RFC 1320 MD4; OpenSSL 3 builds of hashlib often lack it."""
    try:
        return hashlib.new("md4", data).digest()
    except ValueError:
        pass

    def rotl(x: int, n: int) -> int:
        x &= 0xFFFFFFFF
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    message = data + b"\x80" + bytes((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for block in range(0, len(message), 64):
        x = struct.unpack("<16I", message[block : block + 64])
        a, b, c, d = h
        for i in range(16):  # round 1: F = (b & c) | (~b & d)
            k, s = i, (3, 7, 11, 19)[i % 4]
            a = rotl(a + ((b & c) | (~b & d)) + x[k], s)
            a, b, c, d = d, a, b, c
        for i in range(16):  # round 2: G = majority, + 0x5A827999
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            a = rotl(a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999, s)
            a, b, c, d = d, a, b, c
        for i in range(16):  # round 3: H = parity, + 0x6ED9EBA1
            k = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i]
            s = (3, 9, 11, 15)[i % 4]
            a = rotl(a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1, s)
            a, b, c, d = d, a, b, c
        h = [(v + w) & 0xFFFFFFFF for v, w in zip(h, (a, b, c, d))]
    return struct.pack("<4I", *h)
