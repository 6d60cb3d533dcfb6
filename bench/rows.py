"""The Python rows of the benchmark suite, one per child process.

    python bench/rows.py ROW --port PORT [--count N] [--threads T] [--warmup W] [--file PATH]
    python bench/rows.py info

bench/run.py starts one child per row and round, so that every row runs in a
fresh interpreter and its peak memory is its own. A row prints one JSON
object with the same fields as cpp/bench_send: "seconds" and "cpu_seconds"
(user + system of this process, all threads) cover only the timed loop, not
the interpreter start, the imports, the login or the warm-up messages;
"baseline_rss_kb" and "peak_rss_kb" are the peak resident set before and
after it.

The workloads are the ones cpp/bench_send.cpp runs: the same 1 KiB text, the
same addresses, a message composed afresh for every send.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import smtplib
import socket
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Callable

from pocosmtp import (
    FileObjectPartSource,
    FilePartSource,
    MailMessage,
    MailRecipient,
    SMTPClientSession,
    SocketAddress,
    StreamSocket,
    StringPartSource,
)

HOST = "127.0.0.1"
SENDER = "Bench <bench@example.org>"
RECIPIENT = "sink@example.org"
SUBJECT = "bench message"
LINE = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Poco's setContent wants CRLF line ends; email wants "\n" and writes CRLF.
BODY_CRLF = (LINE + "\r\n") * 16
BODY_LF = (LINE + "\n") * 16
ATTACHMENT = bytes(range(256)) * 4096  # 1 MiB, as attachment_data() in bench_send.cpp
# smtplib and aiosmtplib would otherwise resolve the FQDN for EHLO; Poco
# greets with the plain host name. Same name, same cost for everyone.
HELO_NAME = socket.gethostname()


# ---------------------------------------------------------------- measuring


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kb() -> int:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child
    # of the runner would start out with the runner's peak.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(messages: int, body: Callable[[], None]) -> dict[str, Any]:
    baseline = peak_rss_kb()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    body()
    t1 = time.perf_counter()
    cpu1 = cpu_seconds()
    return {
        "messages": messages,
        "seconds": t1 - t0,
        "cpu_seconds": cpu1 - cpu0,
        "baseline_rss_kb": baseline,
        "peak_rss_kb": peak_rss_kb(),
    }


def in_threads(
    n: int,
    count: int,
    prepare: Callable[[], Any],
    send: Callable[[Any], None],
    finish: Callable[[Any], None],
) -> dict[str, Any]:
    """Sends count messages from n threads, each on its own session.

    Each thread logs in and warms up before the clock starts, so the timed
    window holds sending only.
    """
    shares = [count // n + (1 if i < count % n else 0) for i in range(n)]
    start = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def worker(share: int) -> None:
        try:
            session = prepare()
        except BaseException as error:
            errors.append(error)
            start.abort()
            raise
        start.wait()
        try:
            for _ in range(share):
                send(session)
            finish(session)
        except BaseException as error:
            errors.append(error)
            raise

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()

    def release_and_join() -> None:
        start.wait()
        for thread in threads:
            thread.join()

    try:
        result = measure(count, release_and_join)
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        raise errors[0] from None
    if errors:
        raise errors[0]
    return result


# ---------------------------------------------------------------- pocosmtp


def poco_address(message: Any) -> None:
    message.setSender(SENDER)
    message.addRecipient(MailRecipient(MailRecipient.PRIMARY_RECIPIENT, RECIPIENT))
    message.setSubject(SUBJECT)


def poco_text() -> Any:
    message = MailMessage()
    poco_address(message)
    message.setContent(BODY_CRLF, MailMessage.ENCODING_7BIT)
    return message


class Counter:
    """A binary sink that only counts: the size of a message as written."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def poco_size(message: Any) -> int:
    counter = Counter()
    message.write(counter)
    return counter.size


def poco_session(nodelay: bool = True) -> Any:
    if nodelay:
        session = SMTPClientSession(HOST, ARGS.port)
    else:
        # The session shares this socket, so Nagle can be switched back on
        # after the binding turned it off: Poco's default socket options.
        sock = StreamSocket(SocketAddress(HOST, ARGS.port))
        session = SMTPClientSession(sock)
        sock.setNoDelay(False)
    session.login()
    return session


def pocosmtp_reuse(nodelay: bool = True) -> dict[str, Any]:
    session = poco_session(nodelay)
    for _ in range(ARGS.warmup):
        session.sendMessage(poco_text())

    def loop() -> None:
        for _ in range(ARGS.count):
            session.sendMessage(poco_text())

    result = measure(ARGS.count, loop)
    session.close()
    return {**result, "message_bytes": poco_size(poco_text())}


def pocosmtp_new_session() -> dict[str, Any]:
    def once() -> None:
        with SMTPClientSession(HOST, ARGS.port) as session:
            session.login()
            session.sendMessage(poco_text())

    for _ in range(ARGS.warmup):
        once()

    def loop() -> None:
        for _ in range(ARGS.count):
            once()

    return {**measure(ARGS.count, loop), "message_bytes": poco_size(poco_text())}


def pocosmtp_threads() -> dict[str, Any]:
    def prepare() -> Any:
        session = poco_session()
        for _ in range(ARGS.warmup):
            session.sendMessage(poco_text())
        return session

    result = in_threads(
        ARGS.threads,
        ARGS.count,
        prepare,
        lambda session: session.sendMessage(poco_text()),
        lambda session: session.close(),
    )
    return {**result, "message_bytes": poco_size(poco_text())}


def pocosmtp_build() -> dict[str, Any]:
    size = 0

    def once() -> None:
        nonlocal size
        message = MailMessage()
        poco_address(message)
        message.addContent(StringPartSource(BODY_CRLF))
        message.addAttachment("data.bin", StringPartSource(ATTACHMENT, "application/octet-stream"))
        out = io.BytesIO()
        message.write(out)
        size = out.tell()

    for _ in range(ARGS.warmup):
        once()

    def loop() -> None:
        for _ in range(ARGS.count):
            once()

    result = measure(ARGS.count, loop)
    return {**result, "message_bytes": size}


def pocosmtp_file(source: str) -> dict[str, Any]:
    path = ARGS.file
    session = poco_session()
    opened = []

    def compose() -> Any:
        message = MailMessage()
        poco_address(message)
        message.addContent(StringPartSource(BODY_CRLF))
        if source == "file":
            part = FilePartSource(path, "data.bin", "application/octet-stream")
        elif source == "fileobj":
            opened.append(open(path, "rb"))  # closed once sent
            part = FileObjectPartSource(opened[-1], "application/octet-stream", "data.bin")
        else:
            with open(path, "rb") as f:
                part = StringPartSource(f.read(), "application/octet-stream", "data.bin")
        message.addAttachment("data.bin", part)
        return message

    result = measure(1, lambda: session.sendMessage(compose()))
    session.close()
    # Sized afterwards, on a second message: Poco's sources are read once.
    size = poco_size(compose())
    for f in opened:
        f.close()
    return {**result, "message_bytes": size}


# ---------------------------------------------------------------- smtplib + email


def email_text() -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = RECIPIENT
    message["Subject"] = SUBJECT
    # Poco's MailMessage sets Date itself; email leaves it to the caller.
    message["Date"] = formatdate(usegmt=True)
    message.set_content(BODY_LF)
    return message


def email_size(message: EmailMessage) -> int:
    return len(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))


class CountingSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers the size of the last message it sent."""

    sent_bytes = 0

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.sent_bytes = len(msg)
        return super().data(msg)


def smtplib_session() -> CountingSMTP:
    return CountingSMTP(HOST, ARGS.port, local_hostname=HELO_NAME)


def smtplib_reuse() -> dict[str, Any]:
    smtp = smtplib_session()
    for _ in range(ARGS.warmup):
        smtp.send_message(email_text())

    def loop() -> None:
        for _ in range(ARGS.count):
            smtp.send_message(email_text())

    result = measure(ARGS.count, loop)
    smtp.quit()
    return {**result, "message_bytes": email_size(email_text())}


def smtplib_new_session() -> dict[str, Any]:
    def once() -> None:
        with smtplib_session() as smtp:
            smtp.send_message(email_text())

    for _ in range(ARGS.warmup):
        once()

    def loop() -> None:
        for _ in range(ARGS.count):
            once()

    return {**measure(ARGS.count, loop), "message_bytes": email_size(email_text())}


def smtplib_threads() -> dict[str, Any]:
    def prepare() -> CountingSMTP:
        smtp = smtplib_session()
        for _ in range(ARGS.warmup):
            smtp.send_message(email_text())
        return smtp

    result = in_threads(
        ARGS.threads,
        ARGS.count,
        prepare,
        lambda smtp: smtp.send_message(email_text()),
        lambda smtp: smtp.quit(),
    )
    return {**result, "message_bytes": email_size(email_text())}


def email_build() -> dict[str, Any]:
    size = 0

    def once() -> None:
        nonlocal size
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = RECIPIENT
        message["Subject"] = SUBJECT
        message["Date"] = formatdate(usegmt=True)
        message.set_content(BODY_LF)
        message.add_attachment(
            ATTACHMENT, maintype="application", subtype="octet-stream", filename="data.bin"
        )
        size = len(message.as_bytes())

    for _ in range(ARGS.warmup):
        once()

    def loop() -> None:
        for _ in range(ARGS.count):
            once()

    return {**measure(ARGS.count, loop), "message_bytes": size}


def smtplib_file() -> dict[str, Any]:
    smtp = smtplib_session()

    def send() -> None:
        message = email_text()
        with open(ARGS.file, "rb") as f:
            message.add_attachment(
                f.read(), maintype="application", subtype="octet-stream", filename="data.bin"
            )
        smtp.send_message(message)

    result = measure(1, send)
    smtp.quit()
    return {**result, "message_bytes": smtp.sent_bytes}


# ---------------------------------------------------------------- aiosmtplib


def aiosmtplib_reuse() -> dict[str, Any]:
    import aiosmtplib

    async def main() -> dict[str, Any]:
        smtp = aiosmtplib.SMTP(
            hostname=HOST, port=ARGS.port, local_hostname=HELO_NAME, start_tls=False
        )
        await smtp.connect()
        for _ in range(ARGS.warmup):
            await smtp.send_message(email_text())
        baseline = peak_rss_kb()
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        for _ in range(ARGS.count):
            await smtp.send_message(email_text())
        t1 = time.perf_counter()
        cpu1 = cpu_seconds()
        await smtp.quit()
        return {
            "messages": ARGS.count,
            "seconds": t1 - t0,
            "cpu_seconds": cpu1 - cpu0,
            "baseline_rss_kb": baseline,
            "peak_rss_kb": peak_rss_kb(),
        }

    return {**asyncio.run(main()), "message_bytes": email_size(email_text())}


# ---------------------------------------------------------------- command line


def info() -> dict[str, Any]:
    import platform

    import pocosmtp

    versions: dict[str, Any] = {
        "python": platform.python_version(),
        "pocosmtp": pocosmtp.__version__,
        "pocosmtp_path": pocosmtp.__file__,
    }
    try:
        import aiosmtplib

        versions["aiosmtplib"] = aiosmtplib.__version__
    except ImportError:
        versions["aiosmtplib"] = None
    return versions


ROWS: dict[str, Callable[[], dict[str, Any]]] = {
    "pocosmtp-reuse": pocosmtp_reuse,
    "pocosmtp-reuse-nagle": lambda: pocosmtp_reuse(nodelay=False),
    "pocosmtp-new-session": pocosmtp_new_session,
    "pocosmtp-threads": pocosmtp_threads,
    "pocosmtp-build": pocosmtp_build,
    "pocosmtp-file": lambda: pocosmtp_file("file"),
    "pocosmtp-fileobj": lambda: pocosmtp_file("fileobj"),
    "pocosmtp-string": lambda: pocosmtp_file("string"),
    "smtplib-reuse": smtplib_reuse,
    "smtplib-new-session": smtplib_new_session,
    "smtplib-threads": smtplib_threads,
    "email-build": email_build,
    "smtplib-file": smtplib_file,
    "aiosmtplib-reuse": aiosmtplib_reuse,
}

ARGS = argparse.Namespace()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("row", choices=[*ROWS, "info"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--file", help="the attachment of the *-file rows")
    parser.parse_args(namespace=ARGS)
    if ARGS.row == "info":
        print(json.dumps(info()))
        return
    result = ROWS[ARGS.row]()
    result["threads"] = ARGS.threads if ARGS.row.endswith("-threads") else 1
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
