"""TLS: Context, X509Certificate, SecureStreamSocket and SecureSMTPClientSession.

Every server here is real and on 127.0.0.1: aiosmtpd with STARTTLS or implicit
TLS, the scripted peer for refusals and stalls, and (marker ``postfix``) a
private Postfix. Certificates are made per test by a private CA (trustme).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import pocosmtp
import servers
import tls_servers
from pocosmtp import (
    Context,
    SecureSMTPClientSession,
    SecureStreamSocket,
    SMTPClientSession,
    SocketAddress,
    X509Certificate,
)
from tls_servers import Pki, implicit_tls_server, server_context, starttls_server

BODY = b"Subject: over TLS\r\n\r\nSent by pocosmtp.\r\n"
SELF_SIGNED = r"self[- ]signed"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def tls_server():
    """Factory: ``tls_server(make, context, **smtp_kwargs)`` starts and later stops a server."""
    started: list[servers.SmtpServer] = []

    def start(
        make: Callable[..., servers.SmtpServer], context: ssl.SSLContext, **smtp_kwargs: Any
    ) -> servers.SmtpServer:
        server = make(context, **smtp_kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def trusting(pki: Pki, mode=Context.VERIFY_STRICT) -> Context:
    """A client Context trusting only the test CA."""
    return Context(Context.TLS_CLIENT_USE, pki.ca_file, mode)


def send_one(session: SMTPClientSession, body: bytes = BODY) -> None:
    session.sendAddresses("sender@client.test", ["rcpt@example.org"])
    session.sendData()
    session.sendMessage(body)


# ------------------------------------------------------------------ Context


def test_context_keeps_poco_defaults(pki):
    context = Context(Context.TLS_CLIENT_USE, pki.ca_file)

    assert context.usage() == Context.TLS_CLIENT_USE
    assert context.verificationMode() == Context.VERIFY_RELAXED
    assert context.extendedCertificateVerificationEnabled()
    assert not context.isForServerUse()
    assert Context.VerificationMode.VERIFY_STRICT is Context.VERIFY_STRICT


def test_context_from_params(pki):
    params = Context.Params()
    assert params.verificationDepth == 9
    assert params.cipherList == "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH"
    assert params.dhGroup == Context.KEY_DH_GROUP_2048
    params.caLocation = pki.ca_file
    params.verificationMode = Context.VERIFY_ONCE

    context = Context(Context.TLS_SERVER_USE, params)

    assert context.isForServerUse()
    assert context.verificationMode() == Context.VERIFY_ONCE
    context.enableExtendedCertificateVerification(False)
    assert not context.extendedCertificateVerificationEnabled()
    context.disableProtocols(Context.PROTO_TLSV1 | Context.PROTO_TLSV1_1)
    context.requireMinimumProtocol(Context.PROTO_TLSV1_2)


def test_context_with_missing_ca_file_says_which(tmp_path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(pocosmtp.FileNotFoundException, match=r"nope\.pem"):
        Context(Context.TLS_CLIENT_USE, missing)


def test_context_with_bad_ca_file_raises_context_error(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not PEM")
    with pytest.raises(pocosmtp.SSLContextException, match=r"bad\.pem"):
        Context(Context.TLS_CLIENT_USE, str(bad))


def test_default_client_context_is_safe():
    context = pocosmtp.SSLManager.instance().defaultClientContext()

    assert context.usage() == Context.TLS_CLIENT_USE
    assert context.verificationMode() == Context.VERIFY_STRICT
    assert context.extendedCertificateVerificationEnabled()
    assert context is pocosmtp.SSLManager.instance().defaultClientContext()


def test_encrypted_private_key_fails_without_prompting(pki, tmp_path):
    pem = pki.issue("client.test")
    key = serialization.load_pem_private_key(pem.key, password=None)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    # In a child whose stdin stays open and silent: a console prompt would hang.
    child = run_child(
        f"""
        import pocosmtp
        try:
            pocosmtp.Context(pocosmtp.Context.TLS_CLIENT_USE, {str(locked)!r},
                             {pem.cert_file!r}, "")
        except pocosmtp.SSLContextException as error:
            print(json.dumps(str(error)))
        """,
        stdin=subprocess.PIPE,
    )
    assert "private key" in json.loads(child)


# ------------------------------------------------------------------ X509Certificate


def test_certificate_matches_what_cryptography_reads(pki, tmp_path):
    pem = pki.issue("localhost", "mail.example.org")
    reference = x509.load_pem_x509_certificate(pem.cert)

    cert = X509Certificate(pem.cert)

    assert cert == X509Certificate(pem.cert_file) == X509Certificate(Path(pem.cert_file))
    assert cert == X509Certificate(io.BytesIO(pem.cert))
    assert int(cert.serialNumber(), 16) == reference.serial_number
    assert cert.version() == 3
    assert cert.validFrom() == reference.not_valid_before_utc
    assert cert.expiresOn() == reference.not_valid_after_utc
    assert cert.expiresOn().tzinfo is not None
    assert cert.fingerprint("SHA256") == reference.fingerprint(hashes.SHA256())
    assert "pocosmtp test CA" in cert.issuerName()
    assert cert.issuerName(X509Certificate.NID_ORGANIZATION_NAME) == "pocosmtp test CA"
    _common_name, names = cert.extractNames()
    assert names == {"localhost", "mail.example.org"}
    assert cert.verify("mail.example.org")
    assert not cert.verify("other.example.org")
    assert cert.issuedBy(X509Certificate(pki.ca_file))
    assert not cert.issuedBy(cert)
    assert "sha256" in cert.signatureAlgorithm().lower()
    assert repr(cert).startswith("<X509Certificate subject=")

    saved = io.BytesIO()
    cert.save(saved)
    assert X509Certificate(saved.getvalue()) == cert
    both = tmp_path / "both.pem"
    X509Certificate.writePEM(str(both), [cert, X509Certificate(pki.ca_file)])
    assert X509Certificate.readPEM(str(both)) == [cert, X509Certificate(pki.ca_file)]


def test_certificate_from_garbage_raises():
    with pytest.raises(pocosmtp.PocoException):
        X509Certificate(b"not a certificate")


# ------------------------------------------------------------------ STARTTLS


def test_starttls_then_send(pki, tls_server):
    server = tls_server(starttls_server, server_context(pki.issue("localhost")))
    context = trusting(pki)

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    assert session.startTLS(context) is True
    session.login("client.test")
    send_one(session)
    session.close()

    received = server.wait_for(1)
    assert received[0].data == BODY
    assert received[0].rcpt_tos == ["rcpt@example.org"]
    assert server.handler.tls[0].encrypted
    assert server.handler.tls[0].version in {"TLSv1.2", "TLSv1.3"}


@pytest.mark.parametrize(
    "host, certified, sent",
    [("localhost", "localhost", "localhost"), ("127.0.0.1", "127.0.0.1", None)],
)
def test_starttls_sends_host_name_as_sni(pki, tls_server, host, certified, sent):
    """The name given to the session goes out as SNI; an IP address does not (RFC 6066)."""
    names: list = []
    server = tls_server(starttls_server, server_context(pki.issue(certified), sni=names))

    with SecureSMTPClientSession(host, server.port) as session:
        session.login("client.test")
        session.startTLS(trusting(pki))

    assert names == [sent]


def test_server_requires_starttls(pki, tls_server):
    server = tls_server(starttls_server, server_context(pki.issue("localhost")))

    with SecureSMTPClientSession("localhost", server.port) as session:
        session.login("client.test")
        status, _reply = session.sendCommand("MAIL FROM:<sender@client.test>")

    assert status == 530
    assert server.messages == []


@pytest.mark.parametrize(
    "method, mechanism",
    [(SMTPClientSession.AUTH_LOGIN, "LOGIN"), (SMTPClientSession.AUTH_PLAIN, "PLAIN")],
)
def test_auth_after_starttls(pki, tls_server, method, mechanism):
    handler = tls_servers.TlsAuthHandler({"alice": "s3cret"})
    server = tls_server(
        starttls_server,
        server_context(pki.issue("localhost")),
        handler=handler,
        auth_required=True,
        auth_require_tls=True,
    )

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    session.startTLS(trusting(pki))
    session.login("client.test", method, "alice", "s3cret")
    send_one(session)
    session.close()

    assert handler.attempts == [(mechanism, "alice", True)]
    assert handler.encrypted == [True]
    assert server.wait_for(1)[0].data == BODY


def test_wrong_password_after_starttls(pki, tls_server):
    handler = tls_servers.TlsAuthHandler({"alice": "s3cret"})
    server = tls_server(
        starttls_server,
        server_context(pki.issue("localhost")),
        handler=handler,
        auth_require_tls=True,
    )

    with SecureSMTPClientSession("localhost", server.port) as session:
        session.login("client.test")
        session.startTLS(trusting(pki))
        with pytest.raises(pocosmtp.SMTPException) as caught:
            session.login("client.test", SMTPClientSession.AUTH_PLAIN, "alice", "wrong")

    assert caught.value.code() == 535
    assert handler.attempts == [("PLAIN", "alice", False)]
    assert handler.encrypted == [True]


@pytest.mark.parametrize(
    "reply",
    ["454 4.7.0 TLS not available due to temporary reason", "502 5.5.1 Command not implemented"],
)
def test_refused_starttls_raises_with_reply(scripted_peer, reply):
    peer = scripted_peer(["220 peer.test ESMTP", "250 peer.test", reply, "250 still plain"])

    session = SecureSMTPClientSession("127.0.0.1", peer.port)
    session.login("client.test")
    with pytest.raises(pocosmtp.SMTPException) as caught:
        session.startTLS()

    assert caught.value.code() == int(reply[:3])
    assert reply in str(caught.value)
    assert peer.lines == ["EHLO client.test", "STARTTLS"]
    # Nothing was switched: the dialogue goes on in plain text, in step.
    assert session.sendCommand("NOOP") == (250, "250 still plain")
    session.close()


def test_session_from_socket_checks_the_peer_address(pki, tls_server):
    """No host name known: the certificate must name the IP address (Poco's rule)."""
    by_name = tls_server(starttls_server, server_context(pki.issue("localhost")))
    by_address = tls_server(starttls_server, server_context(pki.issue("127.0.0.1")))

    plain = pocosmtp.StreamSocket(SocketAddress("127.0.0.1", by_address.port))
    session = SecureSMTPClientSession(plain)
    session.login("client.test")
    session.startTLS(trusting(pki))
    session.login("client.test")
    send_one(session)
    session.close()
    assert by_address.wait_for(1)[0].data == BODY

    plain = pocosmtp.StreamSocket(SocketAddress("127.0.0.1", by_name.port))
    session = SecureSMTPClientSession(plain)
    session.login("client.test")
    with pytest.raises(pocosmtp.CertificateValidationException, match="no host name was known"):
        session.startTLS(trusting(pki))


# ------------------------------------------------------------------ refused certificates


def test_self_signed_certificate_is_refused_by_default(pki, tls_server):
    server = tls_server(starttls_server, server_context(pki.self_signed("localhost")))

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    with pytest.raises(pocosmtp.CertificateValidationException, match=SELF_SIGNED) as caught:
        session.startTLS()

    assert "Unacceptable certificate from localhost" in str(caught.value)
    assert isinstance(caught.value, pocosmtp.SSLException)
    # The session is closed: nothing more goes to a peer we do not trust.
    with pytest.raises(pocosmtp.IllegalStateException, match="TLS handshake"):
        session.sendCommand("NOOP")
    assert server.messages == []


def test_unknown_ca_is_refused_by_default(pki, tls_server):
    """The default Context trusts the system store only, not the test CA."""
    server = tls_server(starttls_server, server_context(pki.issue("localhost")))

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    with pytest.raises(pocosmtp.CertificateValidationException, match="local issuer"):
        session.startTLS()


def test_expired_certificate_is_refused(pki, tls_server):
    yesterday = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    server = tls_server(
        starttls_server, server_context(pki.issue("localhost", not_after=yesterday))
    )

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    with pytest.raises(pocosmtp.CertificateValidationException, match="expired"):
        session.startTLS(trusting(pki))


def test_wrong_host_is_refused(pki, tls_server):
    server = tls_server(starttls_server, server_context(pki.issue("mail.example.org")))

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    with pytest.raises(
        pocosmtp.CertificateValidationException, match="does not name this host"
    ) as caught:
        session.startTLS(trusting(pki))
    assert "localhost" in str(caught.value)


def test_relaxed_context_skips_host_check_on_loopback(pki, tls_server):
    """Poco's VERIFY_RELAXED rule, kept for user Contexts; why the default is STRICT."""
    server = tls_server(starttls_server, server_context(pki.issue("mail.example.org")))

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    session.startTLS(trusting(pki, Context.VERIFY_RELAXED))
    session.login("client.test")
    send_one(session)
    session.close()

    assert server.wait_for(1)[0].data == BODY


def test_default_context_uses_system_store_and_checks_host(pki, tls_server):
    """In a child whose system store is the test CA (SSL_CERT_FILE)."""
    good = tls_server(starttls_server, server_context(pki.issue("localhost")))
    wrong = tls_server(starttls_server, server_context(pki.issue("mail.example.org")))

    out = run_child(
        f"""
        import pocosmtp
        results = []
        for port in ({good.port}, {wrong.port}):
            session = pocosmtp.SecureSMTPClientSession("localhost", port)
            session.login("client.test")
            try:
                session.startTLS()
                session.login("client.test")
                session.sendAddresses("sender@client.test", ["rcpt@example.org"])
                session.sendData()
                session.sendMessage({BODY!r})
                session.close()
                results.append("sent")
            except pocosmtp.CertificateValidationException as error:
                results.append(str(error))
        print(json.dumps(results))
        """,
        env={"SSL_CERT_FILE": pki.ca_file, "SSL_CERT_DIR": str(Path(pki.ca_file).parent)},
    )

    sent, refused = json.loads(out)
    assert sent == "sent"
    assert good.wait_for(1)[0].data == BODY
    assert good.handler.tls[0].encrypted
    assert "does not name this host" in refused
    assert wrong.messages == []


@pytest.mark.skipif(not hasattr(__import__("ssl"), "TLSVersion"), reason="needs ssl.TLSVersion")
def test_default_context_refuses_tls_1_1(pki, tls_server):
    import ssl

    server_ctx = server_context(pki.issue("localhost"), maximum_version=ssl.TLSVersion.TLSv1_1)
    server = tls_server(starttls_server, server_ctx)

    # A permissive user Context proves this machine can still speak TLS 1.1 ...
    params = Context.Params()
    params.verificationMode = Context.VERIFY_NONE
    params.cipherList = "DEFAULT:@SECLEVEL=0"
    with SecureSMTPClientSession("localhost", server.port) as session:
        session.login("client.test")
        try:
            session.startTLS(Context(Context.TLS_CLIENT_USE, params))
        except pocosmtp.SSLException:
            pytest.skip("OpenSSL here refuses TLS 1.1 whatever the Context says")

    # ... so only the default Context's minimum can refuse it.
    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    with pytest.raises(pocosmtp.SSLException) as caught:
        session.startTLS()
    assert not isinstance(caught.value, pocosmtp.CertificateValidationException)


# ------------------------------------------------------------------ implicit TLS


def test_implicit_tls_session_over_secure_socket(pki, tls_server):
    server = tls_server(implicit_tls_server, server_context(pki.issue("localhost")))

    socket = SecureStreamSocket(SocketAddress("127.0.0.1", server.port), "localhost", trusting(pki))

    assert socket.getPeerHostName() == "localhost"
    assert socket.havePeerCertificate()
    assert "localhost" in socket.peerCertificate().extractNames()[1]
    assert socket.context().verificationMode() == Context.VERIFY_STRICT
    session = SMTPClientSession(socket)
    session.login("client.test")
    send_one(session)
    session.close()
    assert server.wait_for(1)[0].data == BODY
    assert server.handler.tls[0].encrypted


def test_implicit_tls_with_default_context_refuses_unknown_ca(pki, tls_server):
    server = tls_server(implicit_tls_server, server_context(pki.issue("localhost")))

    with pytest.raises(pocosmtp.CertificateValidationException, match="local issuer"):
        SecureStreamSocket(SocketAddress("127.0.0.1", server.port), "localhost")


def test_secure_session_remembers_socket_host_name(pki, tls_server):
    """A session built on a SecureStreamSocket checks later certificates against its name."""
    server = tls_server(implicit_tls_server, server_context(pki.issue("localhost")))
    socket = SecureStreamSocket(SocketAddress("127.0.0.1", server.port), "localhost", trusting(pki))

    session = SecureSMTPClientSession(socket)

    assert "localhost" in repr(session)
    session.close()


def test_attach_and_connect_with_timeout(pki, tls_server):
    server = tls_server(implicit_tls_server, server_context(pki.issue("localhost")))
    address = SocketAddress("127.0.0.1", server.port)

    attached = SecureStreamSocket.attach(pocosmtp.StreamSocket(address), "localhost", trusting(pki))
    assert attached.havePeerCertificate()
    attached.close()

    socket = SecureStreamSocket("localhost", trusting(pki))
    socket.connect(address, datetime.timedelta(seconds=2))
    assert socket.peerCertificate() == attached.peerCertificate()
    socket.verifyPeerCertificate()
    with pytest.raises(pocosmtp.CertificateValidationException):
        socket.verifyPeerCertificate("other.example.org")
    socket.close()


def test_context_outlives_its_python_object(pki, tls_server):
    server = tls_server(implicit_tls_server, server_context(pki.issue("localhost")))
    # The Context's only Python reference was the temporary: C++ holds it now.
    socket = SecureStreamSocket("localhost", trusting(pki))

    socket.connect(SocketAddress("127.0.0.1", server.port))

    assert socket.context().verificationMode() == Context.VERIFY_STRICT
    session = SMTPClientSession(socket)
    session.login("client.test")
    session.close()


# ------------------------------------------------------------------ client certificates


def test_client_certificate_when_the_server_requires_one(pki, tls_server):
    server = tls_server(
        starttls_server, server_context(pki.issue("localhost"), client_ca=pki.ca_file)
    )
    client = pki.issue("client.test")
    context = Context(
        Context.TLS_CLIENT_USE,
        client.key_file,
        client.cert_file,
        pki.ca_file,
        Context.VERIFY_STRICT,
    )

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    session.startTLS(context)
    session.login("client.test")
    send_one(session)
    session.close()

    server.wait_for(1)
    seen = server.handler.tls[0].client_certificate
    assert ("DNS", "client.test") in seen["subjectAltName"]


def test_client_certificate_and_key_set_on_the_context(pki, tls_server, tmp_path):
    server = tls_server(
        starttls_server, server_context(pki.issue("localhost"), client_ca=pki.ca_file)
    )
    client = pki.issue("client.test")
    context = trusting(pki)
    context.useCertificate(X509Certificate(client.cert))
    context.usePrivateKey(pocosmtp.EVPPKey(None, client.key))

    session = SecureSMTPClientSession("localhost", server.port)
    session.login("client.test")
    session.startTLS(context)
    session.login("client.test")
    send_one(session)
    session.close()

    server.wait_for(1)
    assert ("DNS", "client.test") in server.handler.tls[0].client_certificate["subjectAltName"]


def test_private_key_loading(pki, tmp_path):
    pem = pki.issue("client.test")
    key = serialization.load_pem_private_key(pem.key, password=None)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )

    from_file = pocosmtp.EVPPKey("", pem.key_file)
    assert from_file == pocosmtp.EVPPKey(None, io.BytesIO(pem.key))
    assert from_file == pocosmtp.EVPPKey("", str(locked), "passphrase")
    assert from_file != pocosmtp.EVPPKey("", pki.issue("other.test").key_file)
    assert pocosmtp.EVPPKey(X509Certificate(pem.cert)).name() == from_file.name()
    with pytest.raises(pocosmtp.PocoException):
        pocosmtp.EVPPKey("", str(locked))  # no passphrase: refused, never asked for
    with pytest.raises(TypeError):
        pocosmtp.EVPPKey("", pem.key)


def test_missing_client_certificate_is_refused(pki, tls_server, request):
    server = tls_server(
        starttls_server, server_context(pki.issue("localhost"), client_ca=pki.ca_file)
    )

    session = SecureSMTPClientSession("localhost", server.port)
    session.setTimeout(datetime.timedelta(seconds=2))
    session.login("client.test")
    request.addfinalizer(lambda: close_quietly(session))
    # TLS 1.3: the client finishes its handshake before the server's alert
    # arrives, so the refusal surfaces on a later command: as the alert
    # (SSLException), a reset or a broken pipe, all IOException.
    with pytest.raises(pocosmtp.IOException):
        session.startTLS(trusting(pki))
        session.login("client.test")
        send_one(session)
    assert server.messages == []


# ------------------------------------------------------------------ stalls and the GIL


def close_quietly(session: SMTPClientSession) -> None:
    """Closes a session whose connection may be broken (close() then raises)."""
    try:
        session.close()
    except pocosmtp.PocoException:
        pass


def count_while(thread: threading.Thread) -> int:
    ticks = 0
    while thread.is_alive():
        ticks += 1
        time.sleep(0.001)
    return ticks


def test_stalled_starttls_handshake_times_out_without_holding_the_gil(scripted_peer, pki):
    peer = scripted_peer(["220 peer.test", "250 peer.test", "220 go ahead", servers.STALL])
    session = SecureSMTPClientSession("127.0.0.1", peer.port)
    session.setTimeout(datetime.timedelta(seconds=0.5))
    session.login("client.test")
    errors: list[BaseException] = []

    def shake() -> None:
        try:
            session.startTLS(trusting(pki))
        except BaseException as error:
            errors.append(error)

    started = time.monotonic()
    thread = threading.Thread(target=shake)
    thread.start()
    ticks = count_while(thread)
    elapsed = time.monotonic() - started

    assert len(errors) == 1 and isinstance(errors[0], TimeoutError), errors
    assert 0.4 < elapsed < 3
    assert ticks > 100  # the main thread ran all along
    assert peer.lines[-1] == "STARTTLS"
    with pytest.raises(pocosmtp.IllegalStateException):
        session.sendCommand("NOOP")


def test_stalled_implicit_handshake_times_out_without_holding_the_gil(scripted_peer, pki):
    peer = scripted_peer([servers.STALL])
    socket = SecureStreamSocket("localhost", trusting(pki))
    errors: list[BaseException] = []

    def shake() -> None:
        try:
            socket.connect(SocketAddress("127.0.0.1", peer.port), datetime.timedelta(seconds=0.5))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=shake)
    thread.start()
    ticks = count_while(thread)

    assert len(errors) == 1 and isinstance(errors[0], TimeoutError), errors
    assert ticks > 100


# ------------------------------------------------------------------ Postfix


@pytest.mark.postfix
def test_postfix_accepts_mail_over_starttls(pki):
    with tls_servers.Postfix.running(pki.issue("localhost", "127.0.0.1")) as postfix:
        session = SecureSMTPClientSession("localhost", postfix.port)
        session.login("client.test")
        status, reply = session.sendCommand("MAIL FROM:<sender@client.test>")
        assert status == 530, reply  # Postfix takes mail only after STARTTLS
        session.startTLS(trusting(pki))
        session.login("client.test")
        send_one(session)
        session.close()

        delivered = postfix.wait_for_inbox(lambda mbox: b"Sent by pocosmtp." in mbox)
        assert b"Subject: over TLS" in delivered
        assert b"with ESMTPS" in delivered  # Postfix's mark for mail received over TLS
    assert not (postfix.directory / "queue" / "pid" / "master.pid").exists()


# ------------------------------------------------------------------ helpers


def run_child(code: str, env: dict | None = None, stdin=None) -> str:
    """Runs code in a fresh interpreter with pocosmtp importable; returns its stdout.

    stdin=subprocess.PIPE keeps the child's stdin open and silent, so a console
    prompt would hang it (and fail the test) instead of reading end-of-file.
    """
    python_dir = str(Path(pocosmtp.__file__).resolve().parent.parent)
    child_env = dict(os.environ, PYTHONPATH=python_dir, **(env or {}))
    with subprocess.Popen(
        [sys.executable, "-c", "import json\n" + textwrap.dedent(code)],
        env=child_env,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            out, err = child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            pytest.fail(f"child hung (a prompt?): {err[-2000:]}")
    assert child.returncode == 0, err[-2000:]
    return out
