"""TLS peers for tests/test_tls.py, all on 127.0.0.1 with certificates made at test time.

- ``Pki``: a private CA (trustme) that issues server and client certificates and
  writes them as PEM files; ``self_signed()`` makes a certificate no CA vouches for.
- ``server_context()``: a Python ``ssl`` server context for aiosmtpd.
- ``TlsRecorder``: aiosmtpd handler that records each message together with what
  the TLS layer saw (whether TLS was on, the client certificate).
- ``TlsAuthHandler``: tests/auth.py's checking handler, noting whether AUTH ran
  over TLS.
- ``Postfix``: the private instance run by ``scripts/postfix-tls.sh``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import auth
import servers

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ certificates


@dataclass
class Pem:
    """A certificate (chain) and its key, as PEM bytes and as files."""

    cert: bytes
    key: bytes
    cert_file: str
    key_file: str


class Pki:
    """A test CA whose certificate and issued certificates live in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = trustme.CA(organization_name="pocosmtp test CA")
        self.ca_file = str(directory / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self._count = 0

    def issue(self, *names: str, not_after: datetime.datetime | None = None, **kw) -> Pem:
        """A certificate for names, issued by this CA (expired if not_after is past)."""
        if not_after is not None:
            kw["not_before"] = not_after - datetime.timedelta(days=30)
            kw["not_after"] = not_after
        leaf = self.ca.issue_cert(*names, **kw)
        chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
        return self._save(chain, leaf.private_key_pem.bytes())

    def self_signed(self, name: str = "localhost") -> Pem:
        """A certificate for name signed by its own key: no CA vouches for it."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self._save(cert.public_bytes(serialization.Encoding.PEM), key_pem)

    def _save(self, cert: bytes, key: bytes) -> Pem:
        self._count += 1
        cert_file = self.directory / f"cert{self._count}.pem"
        key_file = self.directory / f"key{self._count}.pem"
        cert_file.write_bytes(cert)
        key_file.write_bytes(key)
        return Pem(cert, key, str(cert_file), str(key_file))


def server_context(
    pem: Pem,
    client_ca: str | None = None,
    maximum_version: ssl.TLSVersion | None = None,
    sni: list | None = None,
) -> ssl.SSLContext:
    """A server context presenting pem; with client_ca, client certificates are required.

    With sni, the server name each client sends (None when it sends none) is
    appended to that list.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem.cert_file, pem.key_file)
    if sni is not None:
        context.sni_callback = lambda _ssl_object, name, _context: sni.append(name)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    if maximum_version is not None:
        # An outdated server on purpose: Python warns about the old versions.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            context.maximum_version = maximum_version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


# ------------------------------------------------------------------ aiosmtpd


@dataclass
class TlsSeen:
    """What the TLS layer showed when a message arrived."""

    encrypted: bool
    version: str | None
    client_certificate: dict | None


class TlsRecorder(servers._Recorder):
    """Records messages like servers.SmtpServer does, plus the TLS state of each."""

    def __init__(self) -> None:
        super().__init__()
        self.tls: list[TlsSeen] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        ssl_object = None
        if session.ssl is not None:  # after STARTTLS
            ssl_object = session.ssl.get("ssl_object")
        else:  # implicit TLS
            ssl_object = server.transport.get_extra_info("ssl_object")
        self.tls.append(
            TlsSeen(
                encrypted=ssl_object is not None,
                version=ssl_object.version() if ssl_object else None,
                client_certificate=ssl_object.getpeercert() if ssl_object else None,
            )
        )
        return await super().handle_DATA(server, session, envelope)


class TlsAuthHandler(auth.AuthHandler, TlsRecorder):
    """The session tests' authenticating handler, also noting whether AUTH ran over TLS.

    ``attempts`` holds ``(mechanism, user, accepted)`` as in tests/auth.py;
    ``encrypted`` holds, per attempt, whether the connection was under TLS then.
    """

    def __init__(self, credentials: dict[str, str]) -> None:
        super().__init__(credentials)
        self.encrypted: list[bool] = []

    async def auth_PLAIN(self, server, args):  # noqa: N802 (aiosmtpd's naming)
        self.encrypted.append(server.session.ssl is not None)
        return await super().auth_PLAIN(server, args)

    async def auth_LOGIN(self, server, args):  # noqa: N802
        self.encrypted.append(server.session.ssl is not None)
        return await super().auth_LOGIN(server, args)


def starttls_server(
    context: ssl.SSLContext, handler: TlsRecorder | None = None, **smtp_kwargs
) -> servers.SmtpServer:
    """aiosmtpd that offers STARTTLS and takes mail only after it."""
    smtp_kwargs.setdefault("require_starttls", True)
    return servers.SmtpServer(handler or TlsRecorder(), tls_context=context, **smtp_kwargs)


def implicit_tls_server(context: ssl.SSLContext, **smtp_kwargs) -> servers.SmtpServer:
    """aiosmtpd speaking TLS from the first byte (as on port 465)."""
    return servers.SmtpServer(TlsRecorder(), ssl_context=context, **smtp_kwargs)


# ------------------------------------------------------------------ Postfix


class PostfixUnavailableError(Exception):
    """Postfix cannot be installed or started here (the test is skipped)."""


class Postfix:
    """A private Postfix taking mail only over STARTTLS; see scripts/postfix-tls.sh."""

    script = ROOT / "scripts" / "postfix-tls.sh"

    def __init__(self, pem: Pem) -> None:
        # Not pytest's tmp_path: Postfix's unprivileged processes must be able
        # to walk down to the directory, and pytest's base folder is private.
        self.directory = Path(tempfile.mkdtemp(prefix="pocosmtp-postfix-"))
        self.directory.chmod(0o755)
        shutil.copyfile(pem.cert_file, self.directory / "server.crt")
        shutil.copyfile(pem.key_file, self.directory / "server.key")
        self.port = servers.free_port()
        self.inbox = self.directory / "mail" / "inbox"

    def start(self) -> Postfix:
        if os.geteuid() != 0 and not shutil.which("postfix", path="/usr/sbin:/usr/bin"):
            raise PostfixUnavailableError("postfix is not installed and installing it needs root")
        done = subprocess.run(
            [str(self.script), "start", str(self.directory), str(self.port)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            self.stop()
            raise PostfixUnavailableError(
                f"scripts/postfix-tls.sh start failed: {done.stderr.strip()[-500:]}"
            )
        return self

    def stop(self) -> None:
        subprocess.run(
            [str(self.script), "stop", str(self.directory)], capture_output=True, timeout=60
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    @classmethod
    @contextlib.contextmanager
    def running(cls, pem: Pem) -> Iterator[Postfix]:
        """A started instance, stopped afterwards; skips the test where Postfix cannot run."""
        postfix = cls(pem)
        try:
            postfix.start()
        except PostfixUnavailableError as reason:
            pytest.skip(str(reason))
        try:
            yield postfix
        finally:
            postfix.stop()

    def wait_for_inbox(self, done: Callable[[bytes], bool], timeout: float = 15) -> bytes:
        """The delivered mail once done(mbox) holds; fails the test after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = self.inbox.read_bytes() if self.inbox.exists() else b""
            if done(delivered):
                return delivered
            if time.monotonic() > deadline:
                pytest.fail("Postfix did not deliver the mail:\n" + self.log()[-2000:])
            time.sleep(0.1)

    def log(self) -> str:
        path = self.directory / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""
