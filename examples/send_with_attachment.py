"""The main job, end to end: compose a multipart message with an attachment
through Poco's MailMessage, send it through Poco's SMTPClientSession to a
capture server on 127.0.0.1, and show what the server stored.
"""

from __future__ import annotations

import argparse
import email
import email.policy
from datetime import datetime, timezone

from pocosmtp import (
    MailMessage,
    MailRecipient,
    SMTPClientSession,
    StringPartSource,
)
from pocosmtp.sink import Sink


def compose() -> MailMessage:
    message = MailMessage()
    message.setSender("pocosmtp demo <demo@example.org>")
    message.addRecipient(
        MailRecipient(MailRecipient.PRIMARY_RECIPIENT, "reader@example.org", "A Reader")
    )
    message.addRecipient(MailRecipient(MailRecipient.CC_RECIPIENT, "archive@example.org"))
    message.setSubject(MailMessage.encodeWord("Grüße from Poco, through Python"))
    message.setDate(datetime.now(timezone.utc))
    message.addContent(
        StringPartSource("This message was composed and sent by Poco 1.14.2.\n"),
        MailMessage.ENCODING_QUOTED_PRINTABLE,
    )
    message.addAttachment(
        "measurements.csv",
        StringPartSource(b"run,ms\n1,12\n2,11\n", "text/csv", "measurements.csv"),
    )
    return message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-mail", help="folder for the stored .eml files")
    args = parser.parse_args()

    with Sink(args.out) as sink:
        with SMTPClientSession(sink.host, sink.port) as session:
            session.login()
            session.sendMessage(compose())
        (path,) = sink.wait_for(1)

    stored = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    print(f"stored {path} ({path.stat().st_size} bytes)")
    print(f"  Subject: {stored['Subject']}")
    for part in stored.walk():
        if not part.is_multipart():
            name = part.get_filename() or "(body)"
            print(f"  part {part.get_content_type():<12} {name}: {len(part.get_content())} chars")


if __name__ == "__main__":
    main()
