"""Plays one parity scenario through pocosmtp, exactly as cpp/parity_driver.cpp does with Poco.

    python driver.py SCENARIO PORT FILEDIR

Prints one JSON object on stdout (the same keys as the C++ driver): outcome
"ok" or "exception", the exception's class name and code(), the index of the
failing step, and a result per step that returns something. Every Poco call
is made in the same order as in the C++ driver, with the same arguments and
the same overload, so that any difference on the wire comes from the binding.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import sys
from pathlib import Path
from typing import Any

import pocosmtp


class ScenarioError(Exception):
    """The scenario itself is malformed; exit status 2, as in the C++ driver."""


# ------------------------------------------------------------------ values


def octets(value) -> bytes:
    """A text value (see the README) as the bytes the C++ driver would pass."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if not isinstance(value, dict):
        raise ScenarioError(f"bad text value: {value!r}")
    if "base64" in value:
        return base64.b64decode(value["base64"])
    if "repeat" in value:
        return octets(value["repeat"]) * int(value["count"])
    if "concat" in value:
        return b"".join(octets(item) for item in value["concat"])
    if "encodeWord" in value:
        word = text(value["encodeWord"])
        if "charset" in value:
            encoded = pocosmtp.MailMessage.encodeWord(word, text(value["charset"]))
        else:
            encoded = pocosmtp.MailMessage.encodeWord(word)
        return encoded.encode("utf-8") if isinstance(encoded, str) else encoded
    raise ScenarioError(f"unknown text value: {value!r}")


def text(value) -> Any:
    """str when the octets are UTF-8 (the common case), else bytes; both reach Poco unchanged.

    Any: the stub names str for the std::string parameters this reaches, bytes
    being pybind11's convenience that the scenarios use on purpose.
    """
    raw = octets(value)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def texts(values: list) -> list:
    return [text(v) for v in values]


def encoding_named(name: str):
    if not name.startswith("ENCODING_"):
        raise ScenarioError(f"unknown encoding {name}")
    return getattr(pocosmtp.MailMessage, name)


def disposition_named(name: str):
    if name not in ("CONTENT_INLINE", "CONTENT_ATTACHMENT"):
        raise ScenarioError(f"unknown disposition {name}")
    return getattr(pocosmtp.MailMessage, name)


def recipient_type_named(name: str):
    if not name.endswith("_RECIPIENT"):
        raise ScenarioError(f"unknown recipient type {name}")
    return getattr(pocosmtp.MailRecipient, name)


def login_method_named(name: str):
    if not name.startswith("AUTH_"):
        raise ScenarioError(f"unknown login method {name}")
    return getattr(pocosmtp.SMTPClientSession, name)


# ------------------------------------------------------------------ messages


def set_headers(header, spec: dict) -> None:
    for name, value in spec.get("headers", []):
        header.set(text(name), text(value))


def part_source(spec: dict, file_dir: Path):
    kind = spec["kind"]
    source: pocosmtp.PartSource
    if kind == "string":
        data = text(spec["data"])
        if "filename" in spec:
            source = pocosmtp.StringPartSource(
                data, text(spec["mediaType"]), text(spec["filename"])
            )
        elif "mediaType" in spec:
            source = pocosmtp.StringPartSource(data, text(spec["mediaType"]))
        else:
            source = pocosmtp.StringPartSource(data)
    elif kind == "file":
        path = str(file_dir / text(spec["file"]))
        if "filename" in spec:
            source = pocosmtp.FilePartSource(path, text(spec["filename"]), text(spec["mediaType"]))
        elif "mediaType" in spec:
            source = pocosmtp.FilePartSource(path, text(spec["mediaType"]))
        else:
            source = pocosmtp.FilePartSource(path)
    elif kind == "multipart":
        if "mediaType" in spec:
            multipart = pocosmtp.MultipartSource(text(spec["mediaType"]))
        else:
            multipart = pocosmtp.MultipartSource()
        for part in spec["parts"]:
            name, nested, disposition, encoding = part_call(part, file_dir)
            multipart.addPart(name, nested, disposition, encoding)
        source = multipart
    else:
        raise ScenarioError(f"unknown part source kind {kind}")
    set_headers(source.headers(), spec)
    return source


def part_call(spec: dict, file_dir: Path):
    """(name, source, disposition, encoding), defaults as in the C++ driver."""
    call = spec.get("call", "addPart")
    attachment = call == "addAttachment"
    name = text(spec["name"]) if "name" in spec else ""
    source = part_source(spec["source"], file_dir)
    disposition = disposition_named(
        spec.get("disposition", "CONTENT_ATTACHMENT" if attachment else "CONTENT_INLINE")
    )
    encoding = encoding_named(
        spec.get("encoding", "ENCODING_BASE64" if attachment else "ENCODING_QUOTED_PRINTABLE")
    )
    return name, source, disposition, encoding


def add_part(message, spec: dict, file_dir: Path) -> None:
    call = spec.get("call", "addPart")
    name, source, disposition, encoding = part_call(spec, file_dir)
    if call == "addPart":
        message.addPart(name, source, disposition, encoding)
    elif call == "addContent":
        if "encoding" in spec:
            message.addContent(source, encoding)
        else:
            message.addContent(source)
    elif call == "addAttachment":
        if "encoding" in spec:
            message.addAttachment(name, source, encoding)
        else:
            message.addAttachment(name, source)
    else:
        raise ScenarioError(f"unknown part call {call}")


def build_message(spec: dict, file_dir: Path):
    message = pocosmtp.MailMessage()
    if "sender" in spec:
        message.setSender(text(spec["sender"]))
    if "subject" in spec:
        message.setSubject(text(spec["subject"]))
    if "recipients" in spec:
        recipients = []
        for r in spec["recipients"]:
            kind = recipient_type_named(r.get("type", "PRIMARY_RECIPIENT"))
            if "realName" in r:
                recipients.append(
                    pocosmtp.MailRecipient(kind, text(r["address"]), text(r["realName"]))
                )
            else:
                recipients.append(pocosmtp.MailRecipient(kind, text(r["address"])))
        if spec.get("setRecipients", False):
            message.setRecipients(recipients)
        else:
            for recipient in recipients:
                message.addRecipient(recipient)
    if "contentType" in spec:
        message.setContentType(text(spec["contentType"]))
    if "content" in spec:
        if "encoding" in spec:
            message.setContent(text(spec["content"]), encoding_named(spec["encoding"]))
        else:
            message.setContent(text(spec["content"]))
    set_headers(message, spec)
    if "date" in spec:
        message.setDate(datetime.datetime.fromtimestamp(int(spec["date"]), datetime.timezone.utc))
    for part in spec.get("parts", []):
        add_part(message, part, file_dir)
    return message


# ------------------------------------------------------------------ session


def run_step(session, step: dict, messages: dict):
    op = step["op"]
    if op == "open":
        session.open()
    elif op == "login":
        if "method" in step:
            method = login_method_named(step["method"])
            user, password = text(step["username"]), text(step["password"])
            if "hostname" in step:
                session.login(text(step["hostname"]), method, user, password)
            else:
                session.login(method, user, password)
        elif "hostname" in step:
            session.login(text(step["hostname"]))
        else:
            session.login()
    elif op == "sendMessage":
        if "stream" in step:
            data = octets(step["stream"])
            # "streamKind": "file" goes through the file-object adapter, which
            # reads in 64 KiB chunks, instead of the zero-copy bytes path.
            source = io.BytesIO(data) if step.get("streamKind") == "file" else data
            session.sendMessage(source)
        else:
            name = step.get("message", "main")
            if name not in messages:
                raise ScenarioError(f"no message named {name}")
            if "recipients" in step:
                session.sendMessage(messages[name], texts(step["recipients"]))
            else:
                session.sendMessage(messages[name])
    elif op == "sendCommand":
        if "arg" in step:
            status, response = session.sendCommand(text(step["command"]), text(step["arg"]))
        else:
            status, response = session.sendCommand(text(step["command"]))
        return {"status": status, "response": response}
    elif op == "sendAddresses":
        session.sendAddresses(text(step["from"]), texts(step["recipients"]))
    elif op == "sendData":
        session.sendData()
    elif op == "close":
        session.close()
    elif op == "setTimeout":
        session.setTimeout(datetime.timedelta(milliseconds=int(step["ms"])))
    elif op == "getTimeout":
        timeout = session.getTimeout()
        return {"timeout_us": (timeout // datetime.timedelta(microseconds=1))}
    elif op == "startTLS":
        if not isinstance(session, pocosmtp.SecureSMTPClientSession):
            raise ScenarioError('startTLS needs "session": "SecureSMTPClientSession"')
        context = pocosmtp.Context(
            pocosmtp.Context.TLS_CLIENT_USE, "", pocosmtp.Context.VERIFY_NONE
        )
        return {"value": bool(session.startTLS(context))}
    else:
        raise ScenarioError(f"unknown op {op}")
    return None


def play(scenario: dict, port: int, file_dir: Path) -> dict:
    """Runs the scenario; returns the result object the C++ driver would print."""
    results: list = []
    out: dict = {"results": results}
    kind = scenario.get("session", "SMTPClientSession")
    session = None
    index = -1  # building the session and the messages
    try:
        if kind not in ("SMTPClientSession", "SecureSMTPClientSession"):
            raise ScenarioError(f"unknown session class {kind}")
        session = getattr(pocosmtp, kind)("127.0.0.1", port)
        messages = {}
        if "message" in scenario:
            messages["main"] = build_message(scenario["message"], file_dir)
        for name, spec in scenario.get("messages", {}).items():
            messages[name] = build_message(spec, file_dir)
        for index, step in enumerate(scenario["steps"]):
            result = run_step(session, step, messages)
            if result is not None:
                result["step"] = index
                results.append(result)
        out["outcome"] = "ok"
    except ScenarioError:
        raise
    except Exception as e:
        out["outcome"] = "exception"
        out["exception"] = type(e).__name__
        code = getattr(e, "code", None)
        out["code"] = code() if callable(code) else 0
        out["message"] = str(e)
        out["step"] = index
    # As in the C++ driver: the session ends by destruction (QUIT if open).
    # Nothing else refers to it; the exception above is no longer alive.
    session = None
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: driver.py SCENARIO PORT FILEDIR", file=sys.stderr)
        return 2
    try:
        scenario = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        out = play(scenario, int(argv[2]), Path(argv[3]))
    except (ScenarioError, KeyError, ValueError) as e:
        print(f"driver.py: {argv[1]}: {e!r}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
