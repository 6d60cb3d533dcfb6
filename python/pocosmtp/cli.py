"""The ``pocosmtp`` command: send mail through Poco, replay stored mail, or
capture mail locally.

Exit status: 0 when everything was sent (or the sink stopped cleanly), 1 when
a server refused a message or a connection, TLS or file failed, 2 for usage
errors, 130 when interrupted. Errors go to stderr; results to stdout.

Passwords come from the environment variable POCOSMTP_PASSWORD or a prompt,
never from the command line (where every user of the machine could read them
in the process list), and are never printed, not even with --verbose.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import functools
import getpass
import logging
import mailbox
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any, Callable, NoReturn

log = logging.getLogger("pocosmtp.cli")

PASSWORD_VARIABLE = "POCOSMTP_PASSWORD"

# Exit status, as the module docstring lists them.
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130

LOGIN_METHODS = {
    "none": "AUTH_NONE",
    "cram-md5": "AUTH_CRAM_MD5",
    "cram-sha1": "AUTH_CRAM_SHA1",
    "login": "AUTH_LOGIN",
    "plain": "AUTH_PLAIN",
    "xoauth2": "AUTH_XOAUTH2",
    "ntlm": "AUTH_NTLM",
}


class UsageError(Exception):
    """Arguments that parse but make no sense together (exit status 2)."""


# ------------------------------------------------------------------ secrets


class SecretMask(logging.Filter):
    """Masks credentials in log records and error text.

    The password itself and every base64 form a login method could send it in
    are replaced, and so are an initial response after an ``AUTH <method>``
    command and the text of a 334 challenge, whatever secret they carry (a
    CRAM digest, an NTLM message). Installed on the handler --verbose adds, so
    it also covers records that the binding itself writes to the ``pocosmtp``
    logger.
    """

    MASK = "****"
    # An initial response after the method: one base64 token.
    _auth = re.compile(r"(\bAUTH\s+[A-Za-z0-9_-]+)[ \t]+[A-Za-z0-9+/]+=*(?=\s|$)", re.IGNORECASE)
    _challenge = re.compile(r"(\b334)[ \t]+[^\r\n]*")

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def add(self, secret: str, user: str = "") -> None:
        if not secret:
            return
        forms = {secret}
        raw = secret.encode()
        for blob in (
            raw,
            b"\0" + user.encode() + b"\0" + raw,
            b"user=" + user.encode() + b"\x01auth=Bearer " + raw + b"\x01\x01",
        ):
            forms.add(base64.b64encode(blob).decode())
        self._secrets.extend(sorted(forms, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, self.MASK)
        text = self._auth.sub(rf"\1 {self.MASK}", text)
        return self._challenge.sub(rf"\1 {self.MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        return True


MASK = SecretMask()


def _error(text: str) -> None:
    print(f"pocosmtp: {MASK.mask(text)}", file=sys.stderr)


def _describe(error: BaseException) -> str:
    """An error in the user's terms: Poco's message, with the reply code if any."""
    import pocosmtp

    if isinstance(error, pocosmtp.PocoException):
        return f"{error.name()}: {error.message()}" if error.message() else error.name()
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    return str(error) or type(error).__name__


# ------------------------------------------------------------------ sessions


@dataclass
class Credentials:
    method: str = "none"
    user: str = ""
    password: str = field(default="", repr=False)


def _credentials(args: argparse.Namespace) -> Credentials:
    """Asks for the password before connecting, so no prompt runs into a timeout."""
    if args.login == "none":
        if args.user:
            raise UsageError("--user needs --login METHOD")
        return Credentials()
    if not args.user:
        raise UsageError(f"--login {args.login} needs --user")
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError(f"set {PASSWORD_VARIABLE}: there is no terminal to ask on")
        password = getpass.getpass(f"SMTP password for {args.user}: ")
    MASK.add(password, args.user)
    return Credentials(args.login, args.user, password)


def _context(args: argparse.Namespace) -> Any:
    """A Context trusting --cafile, with the binding's safe defaults; None for those."""
    from pocosmtp import Context

    if not args.cafile:
        return None
    context = Context(Context.TLS_CLIENT_USE, args.cafile, Context.VERIFY_STRICT)
    context.requireMinimumProtocol(Context.PROTO_TLSV1_2)
    log.debug("trusting the CA certificates in %s", args.cafile)
    return context


def _step(what: str, call: Callable[..., Any], *call_args: Any) -> Any:
    """Runs one session call, noting it and its outcome at DEBUG."""
    log.debug("%s ...", what)
    result = call(*call_args)
    log.debug("%s: done", what)
    return result


def _open_session(args: argparse.Namespace, credentials: Credentials) -> Any:
    import pocosmtp
    from pocosmtp import SMTPClientSession

    timeout = timedelta(seconds=args.timeout)
    context = _context(args)
    where = f"{args.host}:{args.port}"
    if args.tls:
        socket = (
            pocosmtp.SecureStreamSocket(args.host, context)
            if context
            else pocosmtp.SecureStreamSocket(args.host)
        )
        _step(
            f"connect {where} (implicit TLS)",
            socket.connect,
            pocosmtp.SocketAddress(args.host, args.port),
            timeout,
        )
        session = SMTPClientSession(socket)
    elif args.starttls:
        session = _step(f"connect {where}", pocosmtp.SecureSMTPClientSession, args.host, args.port)
    else:
        session = _step(f"connect {where}", SMTPClientSession, args.host, args.port)

    try:
        session.setTimeout(timeout)
        if args.starttls:
            assert isinstance(session, pocosmtp.SecureSMTPClientSession)  # for type checkers
            _step("EHLO (before STARTTLS)", session.login)
            if context:
                _step("STARTTLS", session.startTLS, context)
            else:
                _step("STARTTLS", session.startTLS)
        if credentials.method == "none":
            _step("EHLO", session.login)
        else:
            method = getattr(SMTPClientSession, LOGIN_METHODS[credentials.method])
            _step(
                f"EHLO, then AUTH {credentials.method.upper()} (user {credentials.user!r})",
                session.login,
                method,
                credentials.user,
                credentials.password,
            )
    except BaseException:
        _close_quietly(session)
        raise
    return session


def _close_quietly(session: Any) -> None:
    import pocosmtp

    try:
        session.close()
    except pocosmtp.PocoException as error:
        log.debug("closing: %s", _describe(error))


# ---------------------------------------------------------------------- send


def _compose(args: argparse.Namespace) -> Any:
    from pocosmtp import FilePartSource, MailMessage, MailRecipient, StringPartSource

    message = MailMessage()
    message.setSender(args.sender)
    kinds = (
        (args.to, MailRecipient.PRIMARY_RECIPIENT),
        (args.cc, MailRecipient.CC_RECIPIENT),
        (args.bcc, MailRecipient.BCC_RECIPIENT),
    )
    for addresses, kind in kinds:
        for address in addresses:
            name, bare = parseaddr(address)
            if name:
                message.addRecipient(MailRecipient(kind, bare, MailMessage.encodeWord(name)))
            else:
                message.addRecipient(MailRecipient(kind, bare or address))
    message.setSubject(MailMessage.encodeWord(args.subject))

    body = Path(args.body_file).read_bytes() if args.body_file else args.body.encode()
    media = "text/html; charset=UTF-8" if args.html else "text/plain; charset=UTF-8"
    if args.attach:
        message.addContent(StringPartSource(body, media))
        for path in args.attach:
            message.addAttachment(Path(path).name, FilePartSource(path))
    else:
        message.setContentType(media)
        message.setContent(body)
    return message


def _envelope_of(raw: bytes) -> tuple[str, list[str]]:
    """MAIL FROM and RCPT TO addresses of a stored message, from its header."""
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    sender = parseaddr(str(parsed.get("From", "")))[1]
    fields = [
        str(value)
        for name in ("To", "Cc", "Bcc")
        for value in parsed.get_all(name, [])  # type: ignore[union-attr, unused-ignore]
    ]
    return sender, [address for _, address in getaddresses(fields) if address]


def _without_bcc(raw: bytes) -> bytes:
    """The message with its Bcc header lines (and their continuations) removed."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            kept.append(line)
    return b"".join(kept) + sep + body


def _send_raw(session: Any, raw: bytes, sender: str, recipients: list[str]) -> None:
    log.debug("MAIL FROM:<%s>, RCPT TO:%s", sender, ", ".join(f"<{r}>" for r in recipients))
    session.sendAddresses(sender, recipients)
    _step("DATA", session.sendData)
    _step(f"message data ({len(raw)} bytes)", session.sendMessage, _without_bcc(raw))


def cmd_send(args: argparse.Namespace) -> int:
    composing = (
        args.subject is not None or args.body is not None or args.body_file or args.html
    ) or args.attach
    if args.eml:
        if composing:
            raise UsageError("--eml sends a stored message as it is: no --subject/--body/--attach")
        raw = sys.stdin.buffer.read() if args.eml == "-" else Path(args.eml).read_bytes()
        sender, recipients = _envelope_of(raw)
        sender = args.sender or sender
        recipients = args.to + args.cc + args.bcc or recipients
        if not sender or not recipients:
            raise UsageError(f"{args.eml} has no From or no recipients: give --from and --to")
    else:
        if not args.sender or not (args.to or args.cc or args.bcc):
            raise UsageError("send needs --from and at least one --to, --cc or --bcc (or --eml)")
        args.subject = args.subject or ""
        args.body = args.body or ""
        message = _compose(args)
        recipients = args.to + args.cc + args.bcc

    session = _open_session(args, _credentials(args))
    with session:
        if args.eml:
            _send_raw(session, raw, sender, recipients)
        else:
            _step("MAIL FROM, RCPT TO, DATA and the message", session.sendMessage, message)
    count = len(recipients)
    print(f"sent to {count} recipient{'s' if count != 1 else ''} via {args.host}:{args.port}")
    return OK


# -------------------------------------------------------------------- replay


def _stored_messages(source: Path) -> list[tuple[str, Callable[[], bytes]]]:
    """(name, loader) for each message of a folder of .eml files or an mbox file."""
    if source.is_dir():
        return [(path.name, path.read_bytes) for path in sorted(source.glob("*.eml"))]
    if not source.is_file():
        raise FileNotFoundError(2, "no such folder or mbox file", str(source))
    box = mailbox.mbox(source, create=False)
    return [
        (f"{source.name}#{index}", functools.partial(box.get_bytes, key))
        for index, key in enumerate(box.keys(), start=1)
    ]


class _Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.shown = sys.stderr.isatty()

    def update(self, done: int, name: str) -> None:
        if not self.shown:
            return
        width = 30
        filled = width * done // max(self.total, 1)
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{self.total} {name[:30]:<30}")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def cmd_replay(args: argparse.Namespace) -> int:
    import pocosmtp

    messages = _stored_messages(Path(args.source))
    credentials = _credentials(args)
    sent = 0
    rejected: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    started = time.monotonic()
    progress = _Progress(len(messages))

    session = _open_session(args, credentials)
    with session:
        for index, (name, load) in enumerate(messages, start=1):
            raw = load()
            sender, recipients = _envelope_of(raw)
            sender, recipients = args.sender or sender, args.to or recipients
            if not sender or not recipients:
                skipped.append((name, "no From or no recipients in the header"))
            else:
                try:
                    _send_raw(session, raw, sender, recipients)
                    sent += 1
                except pocosmtp.SMTPException as error:
                    # The server refused this message; the next one gets a
                    # fresh transaction (RSET ends a half-open one).
                    rejected.append((name, error.message()))
                    log.warning("%s rejected: %s", name, error.message())
                    session.sendCommand("RSET")
                except (pocosmtp.PocoException, OSError):
                    # Not a refusal: the connection itself failed, and the
                    # binding has closed the session. Nothing more can go.
                    progress.finish()
                    _summary(args, sent, rejected, skipped, len(messages) - index + 1, started)
                    raise
            progress.update(index, name)
    progress.finish()
    _summary(args, sent, rejected, skipped, 0, started)
    return FAILED if rejected or skipped else OK


def _summary(
    args: argparse.Namespace,
    sent: int,
    rejected: list[tuple[str, str]],
    skipped: list[tuple[str, str]],
    unsent: int,
    started: float,
) -> None:
    parts = [f"{sent} sent", f"{len(rejected)} rejected"]
    if skipped:
        parts.append(f"{len(skipped)} skipped")
    if unsent:
        parts.append(f"{unsent} not sent")
    elapsed = time.monotonic() - started
    print(f"replay to {args.host}:{args.port}: {', '.join(parts)} in {elapsed:.1f} s")
    for name, reply in rejected:
        print(f"  rejected {name}: {MASK.mask(reply)}")
    for name, why in skipped:
        print(f"  skipped {name}: {why}")
    sys.stdout.flush()


# ---------------------------------------------------------------------- sink


def _stop_on_sigterm() -> None:
    def stop(_signum: int, _frame: object) -> NoReturn:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def cmd_sink(args: argparse.Namespace) -> int:
    try:
        from .sink import Sink
    except ImportError as error:
        _error(f"sink needs aiosmtpd ({error}); install it with: pip install 'pocosmtp[sink]'")
        return FAILED

    _stop_on_sigterm()
    with Sink(args.dir, args.host, args.port) as sink:
        print(
            f"capturing mail on {sink.host}:{sink.port} into {sink.directory}/ (Ctrl-C stops)",
            flush=True,
        )
        seen = 0
        try:
            while True:
                stored = sink.stored
                for path in stored[seen:]:
                    print(f"stored {path}", flush=True)
                seen = len(stored)
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
    print(f"stopped; {seen} message{'s' if seen != 1 else ''} stored", flush=True)
    return OK


# ---------------------------------------------------------------- arguments


def _common_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's default must not overwrite a -v given before it.
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP
    )


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--host", default="127.0.0.1", help="SMTP server (default 127.0.0.1)")
    group.add_argument("--port", type=int, help="server port (default 25, or 465 with --tls)")
    tls = group.add_mutually_exclusive_group()
    tls.add_argument("--starttls", action="store_true", help="upgrade the connection with STARTTLS")
    tls.add_argument("--tls", action="store_true", help="TLS from the first byte (port 465 style)")
    group.add_argument(
        "--cafile",
        metavar="PEM",
        help="trust the CA certificates in this file instead of the system's store",
    )
    group.add_argument(
        "--login",
        metavar="METHOD",
        default="none",
        choices=list(LOGIN_METHODS),
        help=f"authenticate: {', '.join(LOGIN_METHODS)} (default none)",
    )
    group.add_argument(
        "--user",
        help=f"user name for --login; the password comes from ${PASSWORD_VARIABLE} "
        "or a prompt, never from the command line",
    )
    group.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="read timeout (default 30)"
    )


_VERBOSE_HELP = "show each SMTP session step on stderr (credentials masked)"


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="pocosmtp",
        description="Send mail through the Poco C++ library's SMTP client.",
        epilog=f"Exit status: 0 done, 1 refused or failed, 2 usage error. "
        f"Passwords: ${PASSWORD_VARIABLE} or a prompt.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"pocosmtp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send = sub.add_parser(
        "send",
        help="compose and send a message, or send a stored .eml file",
        description="Compose a message from the options and send it, or send a stored "
        ".eml file unchanged (except that Bcc header lines are removed).",
    )
    _common_options(send)
    send.add_argument("--from", dest="sender", metavar="ADDRESS", help="the sender")
    for name, what in (("to", "a recipient"), ("cc", "a copy"), ("bcc", "a blind copy")):
        send.add_argument(
            f"--{name}", action="append", default=[], metavar="ADDRESS", help=f"{what} (repeat)"
        )
    send.add_argument("--subject", help="the subject (any text; encoded as needed)")
    body = send.add_mutually_exclusive_group()
    body.add_argument("--body", help="the message text")
    body.add_argument("--body-file", metavar="FILE", help="read the message text from FILE")
    send.add_argument("--html", action="store_true", help="the text is HTML")
    send.add_argument(
        "--attach", action="append", default=[], metavar="FILE", help="attach FILE (repeat)"
    )
    send.add_argument(
        "--eml",
        metavar="FILE",
        help="send this stored message instead ('-' reads stdin); the envelope comes from "
        "its From/To/Cc/Bcc unless --from/--to/--cc/--bcc are given",
    )
    _connection_options(send)
    send.set_defaults(handler=cmd_send)

    replay = sub.add_parser(
        "replay",
        help="send a folder of .eml files or an mbox over one session",
        description="Send every stored message over one session, continuing past messages "
        "the server refuses, and print a summary.",
    )
    _common_options(replay)
    replay.add_argument("source", metavar="DIR|MBOX", help="a folder of .eml files or an mbox")
    replay.add_argument("--from", dest="sender", metavar="ADDRESS", help="envelope sender for all")
    replay.add_argument(
        "--to", action="append", default=[], metavar="ADDRESS", help="recipient for all (repeat)"
    )
    _connection_options(replay)
    replay.set_defaults(handler=cmd_replay)

    sink = sub.add_parser(
        "sink",
        help="capture mail on this machine as .eml files",
        description="Run a local SMTP server that stores each message it receives as "
        "DIR/NNNNNN.eml, until Ctrl-C.",
    )
    _common_options(sink)
    sink.add_argument("--dir", default="captured-mail", help="folder for the .eml files")
    sink.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sink.add_argument("--port", type=int, default=2525, help="port (default 2525; 0 picks one)")
    sink.set_defaults(handler=cmd_sink)
    return parser


def _show_steps() -> None:
    """--verbose: every record of the pocosmtp loggers to stderr, secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    handler.addFilter(MASK)
    logger = logging.getLogger("pocosmtp")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) in ("send", "replay") and args.port is None:
        args.port = 465 if args.tls else 25
    if args.verbose:
        _show_steps()

    import pocosmtp

    try:
        return int(args.handler(args))
    except UsageError as error:
        parser.exit(USAGE, f"{parser.prog} {args.command}: error: {MASK.mask(str(error))}\n")
    except KeyboardInterrupt:
        _error("interrupted")
        return INTERRUPTED
    except (pocosmtp.PocoException, OSError) as error:
        _error(_describe(error))
        return FAILED
