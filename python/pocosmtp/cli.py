"""The ``pocosmtp`` command: send mail through Poco, replay stored mail, or
capture mail locally.

Exit codes: 0 success, 1 a message was rejected or a server failed, 2 usage
errors (argparse). Errors go to stderr. Passwords come from the environment
variable POCOSMTP_PASSWORD or a prompt, never from the command line, and are
never printed.
"""

from __future__ import annotations

import argparse
import getpass
import io
import logging
import mailbox
import os
import sys
import time
from datetime import timedelta
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Iterator, Sequence

log = logging.getLogger("pocosmtp.cli")

PASSWORD_VARIABLE = "POCOSMTP_PASSWORD"


# ------------------------------------------------------------------ sessions


def _open_session(args: argparse.Namespace):
    import pocosmtp

    timeout = timedelta(seconds=args.timeout)
    if args.tls:
        address = pocosmtp.SocketAddress(args.host, args.port)
        socket = pocosmtp.SecureStreamSocket(address, args.host, _context(args))
        session = pocosmtp.SMTPClientSession(socket)
    elif args.starttls:
        session = pocosmtp.SecureSMTPClientSession(args.host, args.port)
    else:
        session = pocosmtp.SMTPClientSession(args.host, args.port)
    session.setTimeout(timeout)
    log.info("connected to %s:%d", args.host, args.port)

    method = _login_method(args.login)
    if args.starttls:
        session.login()
        if args.cafile:
            session.startTLS(_context(args))
        else:
            session.startTLS()
        log.info("STARTTLS done")
    if method == pocosmtp.SMTPClientSession.AUTH_NONE:
        session.login()
    else:
        if not args.user:
            raise SystemExit("pocosmtp: --login needs --user")
        session.login(method, args.user, _password())
        log.info("logged in with %s as %s", args.login, args.user)
    return session


def _context(args: argparse.Namespace):
    import pocosmtp

    if not args.cafile:
        return None
    return pocosmtp.Context(
        pocosmtp.Context.TLS_CLIENT_USE, "", "", args.cafile, pocosmtp.Context.VERIFY_RELAXED
    )


def _login_method(name: str):
    import pocosmtp

    methods = {
        "none": "AUTH_NONE",
        "cram-md5": "AUTH_CRAM_MD5",
        "cram-sha1": "AUTH_CRAM_SHA1",
        "login": "AUTH_LOGIN",
        "plain": "AUTH_PLAIN",
        "xoauth2": "AUTH_XOAUTH2",
        "ntlm": "AUTH_NTLM",
    }
    return getattr(pocosmtp.SMTPClientSession, methods[name])


def _password() -> str:
    secret = os.environ.get(PASSWORD_VARIABLE)
    if secret is not None:
        return secret
    if not sys.stdin.isatty():
        raise SystemExit(f"pocosmtp: set {PASSWORD_VARIABLE} (no terminal to prompt on)")
    return getpass.getpass("SMTP password: ")


# ---------------------------------------------------------------------- send


def _compose(args: argparse.Namespace):
    import pocosmtp
    from pocosmtp import MailMessage, MailRecipient

    message = MailMessage()
    message.setSender(args.sender)
    kinds = (
        (args.to, MailRecipient.PRIMARY_RECIPIENT),
        (args.cc, MailRecipient.CC_RECIPIENT),
        (args.bcc, MailRecipient.BCC_RECIPIENT),
    )
    for addresses, kind in kinds:
        for address in addresses:
            message.addRecipient(MailRecipient(kind, address))
    message.setSubject(MailMessage.encodeWord(args.subject))
    body = Path(args.body_file).read_bytes() if args.body_file else args.body.encode()
    media = "text/html; charset=UTF-8" if args.html else "text/plain; charset=UTF-8"
    if args.attach:
        message.addContent(pocosmtp.StringPartSource(body, media))
        for path in args.attach:
            message.addAttachment(Path(path).name, pocosmtp.FilePartSource(path))
    else:
        message.setContentType(media)
        message.setContent(body)
    return message


def _envelope_of(raw: bytes) -> tuple[str, list[str]]:
    import email
    import email.policy

    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    sender = parseaddr(parsed.get("From", ""))[1]
    fields = parsed.get_all("To", []) + parsed.get_all("Cc", []) + parsed.get_all("Bcc", [])
    return sender, [address for _, address in getaddresses(fields) if address]


def _without_bcc(raw: bytes) -> bytes:
    """Drops Bcc header lines (and their continuations): they must not travel."""
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


def _send_raw(session, raw: bytes, sender: str, recipients: list[str]) -> None:
    session.sendAddresses(sender, recipients)
    session.sendData()
    session.sendMessage(io.BytesIO(_without_bcc(raw)))


def cmd_send(args: argparse.Namespace) -> int:
    import pocosmtp

    try:
        if args.eml:
            raw = Path(args.eml).read_bytes()
            sender, recipients = _envelope_of(raw)
            sender = args.sender or sender
            recipients = args.to + args.cc + args.bcc or recipients
        else:
            if not args.sender or not (args.to or args.cc or args.bcc):
                raise SystemExit("pocosmtp send: --from and at least one of --to/--cc/--bcc")
            message = _compose(args)
        with _open_session(args) as session:
            if args.eml:
                _send_raw(session, raw, sender, recipients)
            else:
                session.sendMessage(message)
            log.info("message accepted")
    except pocosmtp.PocoException as error:
        print(f"pocosmtp: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"pocosmtp: {error}", file=sys.stderr)
        return 1
    print("sent")
    return 0


# -------------------------------------------------------------------- replay


def _stored_messages(source: Path) -> Iterator[tuple[str, bytes]]:
    if source.is_dir():
        for path in sorted(source.glob("*.eml")):
            yield path.name, path.read_bytes()
    else:
        for index, entry in enumerate(mailbox.mbox(source), start=1):
            yield f"{source.name}#{index}", entry.as_bytes()


def cmd_replay(args: argparse.Namespace) -> int:
    import pocosmtp

    messages = list(_stored_messages(Path(args.source)))
    sent, rejected = 0, []
    started = time.monotonic()
    with _open_session(args) as session:
        for index, (name, raw) in enumerate(messages, start=1):
            sender, recipients = _envelope_of(raw)
            try:
                _send_raw(session, raw, args.sender or sender, args.to or recipients)
                sent += 1
            except pocosmtp.SMTPException as error:
                rejected.append((name, error))
                # A rejected envelope leaves the transaction open; RSET ends it.
                session.sendCommand("RSET")
            _progress(index, len(messages))
    elapsed = time.monotonic() - started
    print(file=sys.stderr)
    print(f"sent {sent}, rejected {len(rejected)}, in {elapsed:.1f} s")
    for name, error in rejected:
        print(f"  rejected {name}: {error.code()} {error}")
    return 1 if rejected else 0


def _progress(done: int, total: int) -> None:
    if not sys.stderr.isatty():
        return
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    sys.stderr.flush()


# ---------------------------------------------------------------------- sink


def cmd_sink(args: argparse.Namespace) -> int:
    from .sink import Sink

    with Sink(args.dir, args.host, args.port) as sink:
        print(f"capturing on {sink.host}:{sink.port} into {sink.directory}", flush=True)
        seen = 0
        try:
            while True:
                stored = sink.stored
                for path in stored[seen:]:
                    print(f"stored {path}", flush=True)
                seen = len(stored)
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


# ---------------------------------------------------------------- arguments


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--host", default="127.0.0.1")
    group.add_argument("--port", type=int, default=25)
    tls = group.add_mutually_exclusive_group()
    tls.add_argument("--starttls", action="store_true", help="upgrade with STARTTLS")
    tls.add_argument("--tls", action="store_true", help="implicit TLS (port 465 style)")
    group.add_argument("--cafile", help="trust this CA file instead of the system store")
    group.add_argument(
        "--login",
        default="none",
        choices=["none", "cram-md5", "cram-sha1", "login", "plain", "xoauth2", "ntlm"],
    )
    group.add_argument(
        "--user", help=f"user name for --login; the password comes from ${PASSWORD_VARIABLE}"
    )
    group.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pocosmtp", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show each session step")
    sub = parser.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send", help="compose and send a message, or send an .eml file")
    send.add_argument("--from", dest="sender", help="sender address")
    send.add_argument("--to", action="append", default=[])
    send.add_argument("--cc", action="append", default=[])
    send.add_argument("--bcc", action="append", default=[])
    send.add_argument("--subject", default="")
    body = send.add_mutually_exclusive_group()
    body.add_argument("--body", default="", help="message text")
    body.add_argument("--body-file", help="read the message text from a file")
    send.add_argument("--html", action="store_true", help="the body is HTML")
    send.add_argument("--attach", action="append", default=[], help="attach a file")
    send.add_argument("--eml", help="send this stored message unchanged (Bcc removed)")
    _connection_options(send)
    send.set_defaults(handler=cmd_send)

    replay = sub.add_parser("replay", help="send a folder of .eml files or an mbox")
    replay.add_argument("source", help="a folder of .eml files or an mbox file")
    replay.add_argument("--from", dest="sender", help="override the envelope sender")
    replay.add_argument("--to", action="append", default=[], help="override the recipients")
    _connection_options(replay)
    replay.set_defaults(handler=cmd_replay)

    sink = sub.add_parser("sink", help="capture mail on this machine as .eml files")
    sink.add_argument("--dir", default="captured-mail")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=2525)
    sink.set_defaults(handler=cmd_sink)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    return int(args.handler(args))
