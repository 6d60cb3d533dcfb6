"""Poco's exceptions in Python: the class table, the translator and the accessors.

Every row of TABLE is thrown as the real C++ class by the private hook
``_raise_poco`` and must come out as the Python class of the same name, with
Poco's base and the builtin it also derives from.
"""

from __future__ import annotations

import errno
import pickle

import pytest

import pocosmtp
from pocosmtp import _pocosmtp

# name: (Poco base, builtin also derived from, Poco's name(), C++ namespace)
TABLE: dict[str, tuple[str | None, type[BaseException] | None, str, str]] = {
    "PocoException": (None, None, "Exception", "Poco"),
    # Poco/Exception.h
    "LogicException": ("PocoException", None, "Logic exception", "Poco"),
    "AssertionViolationException": (
        "LogicException", AssertionError, "Assertion violation", "Poco"),
    "NullPointerException": ("LogicException", None, "Null pointer", "Poco"),
    "NullValueException": ("LogicException", None, "Null value", "Poco"),
    "BugcheckException": ("LogicException", None, "Bugcheck", "Poco"),
    "InvalidArgumentException": ("LogicException", ValueError, "Invalid argument", "Poco"),
    "NotImplementedException": (
        "LogicException", NotImplementedError, "Not implemented", "Poco"),
    "RangeException": ("LogicException", ValueError, "Out of range", "Poco"),
    "IllegalStateException": ("LogicException", None, "Illegal state", "Poco"),
    "InvalidAccessException": ("LogicException", None, "Invalid access", "Poco"),
    "SignalException": ("LogicException", None, "Signal received", "Poco"),
    "UnhandledException": ("LogicException", None, "Unhandled exception", "Poco"),
    "RuntimeException": ("PocoException", None, "Runtime exception", "Poco"),
    "NotFoundException": ("RuntimeException", KeyError, "Not found", "Poco"),
    "ExistsException": ("RuntimeException", None, "Exists", "Poco"),
    "TimeoutException": ("RuntimeException", TimeoutError, "Timeout", "Poco"),
    "SystemException": ("RuntimeException", OSError, "System exception", "Poco"),
    "RegularExpressionException": (
        "RuntimeException", None, "Error in regular expression", "Poco"),
    "LibraryLoadException": ("RuntimeException", None, "Cannot load library", "Poco"),
    "LibraryAlreadyLoadedException": (
        "RuntimeException", None, "Library already loaded", "Poco"),
    "NoThreadAvailableException": ("RuntimeException", None, "No thread available", "Poco"),
    "PropertyNotSupportedException": (
        "RuntimeException", None, "Property not supported", "Poco"),
    "PoolOverflowException": ("RuntimeException", None, "Pool overflow", "Poco"),
    "NoPermissionException": ("RuntimeException", PermissionError, "No permission", "Poco"),
    "OutOfMemoryException": ("RuntimeException", MemoryError, "Out of memory", "Poco"),
    "ResourceLimitException": ("RuntimeException", None, "Resource limit", "Poco"),
    "DataException": ("RuntimeException", ValueError, "Data error", "Poco"),
    "DataFormatException": ("DataException", None, "Bad data format", "Poco"),
    "SyntaxException": ("DataException", None, "Syntax error", "Poco"),
    "CircularReferenceException": ("DataException", None, "Circular reference", "Poco"),
    "PathSyntaxException": ("SyntaxException", None, "Bad path syntax", "Poco"),
    "IOException": ("RuntimeException", OSError, "I/O error", "Poco"),
    "ProtocolException": ("IOException", None, "Protocol error", "Poco"),
    "FileException": ("IOException", None, "File access error", "Poco"),
    "FileExistsException": ("FileException", FileExistsError, "File exists", "Poco"),
    "FileNotFoundException": ("FileException", FileNotFoundError, "File not found", "Poco"),
    "PathNotFoundException": ("FileException", FileNotFoundError, "Path not found", "Poco"),
    "FileReadOnlyException": ("FileException", None, "File is read-only", "Poco"),
    "FileAccessDeniedException": (
        "FileException", PermissionError, "Access to file denied", "Poco"),
    "CreateFileException": ("FileException", None, "Cannot create file", "Poco"),
    "OpenFileException": ("FileException", None, "Cannot open file", "Poco"),
    "WriteFileException": ("FileException", None, "Cannot write file", "Poco"),
    "ReadFileException": ("FileException", None, "Cannot read file", "Poco"),
    "ExecuteFileException": ("FileException", None, "Cannot execute file", "Poco"),
    "FileNotReadyException": ("FileException", None, "File not ready", "Poco"),
    "DirectoryNotEmptyException": ("FileException", None, "Directory not empty", "Poco"),
    "UnknownURISchemeException": ("RuntimeException", None, "Unknown URI scheme", "Poco"),
    "TooManyURIRedirectsException": (
        "RuntimeException", None, "Too many URI redirects", "Poco"),
    "URISyntaxException": ("SyntaxException", None, "Bad URI syntax", "Poco"),
    "ApplicationException": ("PocoException", None, "Application exception", "Poco"),
    "BadCastException": ("RuntimeException", TypeError, "Bad cast exception", "Poco"),
    # Poco/Net/NetException.h
    "NetException": ("IOException", None, "Net Exception", "Poco::Net"),
    "InvalidAddressException": ("NetException", ValueError, "Invalid address", "Poco::Net"),
    "InvalidSocketException": ("NetException", None, "Invalid socket", "Poco::Net"),
    "ServiceNotFoundException": ("NetException", None, "Service not found", "Poco::Net"),
    "ConnectionAbortedException": (
        "NetException", ConnectionAbortedError, "Software caused connection abort", "Poco::Net"),
    "ConnectionResetException": (
        "NetException", ConnectionResetError, "Connection reset by peer", "Poco::Net"),
    "ConnectionRefusedException": (
        "NetException", ConnectionRefusedError, "Connection refused", "Poco::Net"),
    "DNSException": ("NetException", None, "DNS error", "Poco::Net"),
    "HostNotFoundException": ("DNSException", None, "Host not found", "Poco::Net"),
    "NoAddressFoundException": ("DNSException", None, "No address found", "Poco::Net"),
    "InterfaceNotFoundException": ("NetException", None, "Interface not found", "Poco::Net"),
    "NoMessageException": ("NetException", None, "No message received", "Poco::Net"),
    "MessageException": ("NetException", None, "Malformed message", "Poco::Net"),
    "MultipartException": (
        "MessageException", None, "Malformed multipart message", "Poco::Net"),
    "HTTPException": ("NetException", None, "HTTP Exception", "Poco::Net"),
    "NotAuthenticatedException": (
        "HTTPException", None, "No authentication information found", "Poco::Net"),
    "UnsupportedRedirectException": (
        "HTTPException", None, "Unsupported HTTP redirect (protocol change)", "Poco::Net"),
    "FTPException": ("NetException", None, "FTP Exception", "Poco::Net"),
    "SMTPException": ("NetException", None, "SMTP Exception", "Poco::Net"),
    "POP3Exception": ("NetException", None, "POP3 Exception", "Poco::Net"),
    "ICMPException": ("NetException", None, "ICMP Exception", "Poco::Net"),
    "ICMPFragmentationException": (
        "NetException", None, "ICMP Fragmentation needed", "Poco::Net"),
    "NTPException": ("NetException", None, "NTP Exception", "Poco::Net"),
    "HTMLFormException": ("NetException", None, "HTML Form Exception", "Poco::Net"),
    "WebSocketException": ("NetException", None, "WebSocket Exception", "Poco::Net"),
    "UnsupportedFamilyException": (
        "NetException", None, "Unknown or unsupported socket family", "Poco::Net"),
    "AddressFamilyMismatchException": (
        "NetException", None, "Address family mismatch", "Poco::Net"),
    # Poco/Net/SSLException.h
    "SSLException": ("NetException", None, "SSL Exception", "Poco::Net"),
    "SSLContextException": ("SSLException", None, "SSL context exception", "Poco::Net"),
    "InvalidCertificateException": ("SSLException", None, "Invalid certficate", "Poco::Net"),
    "CertificateValidationException": (
        "SSLException", None, "Certificate validation error", "Poco::Net"),
    "SSLConnectionUnexpectedlyClosedException": (
        "SSLException", None, "SSL connection unexpectedly closed", "Poco::Net"),
    # Poco/Crypto/CryptoException.h
    "CryptoException": ("PocoException", None, "Crypto Exception", "Poco::Crypto"),
    "OpenSSLException": ("CryptoException", None, "OpenSSLException", "Poco::Crypto"),
}  # fmt: skip


def cpp_name(name: str) -> str:
    return "Poco::Exception" if name == "PocoException" else f"{TABLE[name][3]}::{name}"


def raised(class_name: str, *args, **kwargs) -> pocosmtp.PocoException:
    with pytest.raises(pocosmtp.PocoException) as caught:
        _pocosmtp._raise_poco(class_name, *args, **kwargs)
    return caught.value


# ------------------------------------------------------------------ the table


def test_the_module_binds_exactly_the_table():
    bound = {
        name
        for name, value in vars(_pocosmtp).items()
        if isinstance(value, type) and issubclass(value, pocosmtp.PocoException)
    }
    assert bound == set(TABLE)
    assert set(TABLE) <= set(pocosmtp.__all__)


@pytest.mark.parametrize("name", TABLE)
def test_row(name):
    base, builtin, poco_name, _ = TABLE[name]
    cls = getattr(pocosmtp, name)
    expected_bases: tuple[type, ...] = (getattr(pocosmtp, base) if base else Exception,)
    if builtin:
        expected_bases += (builtin,)
    assert cls.__bases__ == expected_bases
    assert cls.__module__ == "pocosmtp"

    exc = raised(name, "went wrong", 7)
    assert type(exc) is cls
    assert isinstance(exc, pocosmtp.PocoException)
    if builtin:
        assert isinstance(exc, builtin)
    message = exc.message()
    if name == "OpenSSLException":
        # Each of its constructors (the copy made by throw too) appends
        # OpenSSL's error queue: ": error:00000000:lib(0)::reason(0)" when empty.
        assert message.startswith("went wrong: error:")
    else:
        assert message == "went wrong"
    assert exc.code() == 7
    assert exc.name() == poco_name
    assert exc.className() == cpp_name(name)
    assert exc.displayText() == f"{poco_name}: {message}"
    assert str(exc) == exc.displayText()
    assert exc.nested() is None


def test_builtins_catch_what_poco_throws():
    with pytest.raises(ConnectionRefusedError):
        _pocosmtp._raise_poco("ConnectionRefusedException", "127.0.0.1:25", errno.ECONNREFUSED)
    with pytest.raises(TimeoutError):
        _pocosmtp._raise_poco("TimeoutException", "")
    with pytest.raises(OSError):  # every Net exception is an IOException
        _pocosmtp._raise_poco("SMTPException", "Login failed", 535)
    with pytest.raises(KeyError):
        _pocosmtp._raise_poco("NotFoundException", "no such header")


def test_a_subclass_is_caught_by_its_poco_bases():
    with pytest.raises(pocosmtp.NetException):
        _pocosmtp._raise_poco("HostNotFoundException", "mail.example.invalid")
    with pytest.raises(pocosmtp.DNSException):
        _pocosmtp._raise_poco("HostNotFoundException", "mail.example.invalid")
    with pytest.raises(pocosmtp.IOException):
        _pocosmtp._raise_poco("SSLException", "handshake failed")


def test_an_unbound_poco_class_lands_on_its_nearest_bound_base():
    # Poco::Util::MissingArgumentException -> OptionException -> DataException
    with pytest.raises(pocosmtp.DataException) as caught:
        _pocosmtp._raise_unbound("--to")
    exc = caught.value
    assert type(exc) is pocosmtp.DataException
    assert isinstance(exc, ValueError)
    assert exc.name() == "Missing option argument"
    assert exc.className() == "Poco::Util::MissingArgumentException"
    assert str(exc) == "Missing option argument: --to"


def test_a_real_poco_error_is_translated():
    with pytest.raises(pocosmtp.InvalidArgumentException) as caught:
        pocosmtp.SocketAddress("127.0.0.1")  # Poco wants "host:port"
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == "Invalid argument: Missing port number"


# ------------------------------------------------------------------ accessors


def test_empty_message_shows_only_the_name():
    exc = raised("TimeoutException", "", errno.EAGAIN)
    assert exc.message() == ""
    assert exc.displayText() == str(exc) == "Timeout"
    assert exc.code() == errno.EAGAIN


def test_arg_is_appended_as_poco_does():
    exc = raised("SMTPException", "Login failed", 535, arg="535 5.7.8 Bad credentials")
    assert exc.message() == "Login failed: 535 5.7.8 Bad credentials"
    assert exc.code() == 535
    empty = raised("SMTPException", "Login failed", 535, arg="")
    assert empty.message() == "Login failed"


def test_key_error_str_is_not_quoted():
    exc = raised("NotFoundException", "X-Header")
    assert str(exc) == "Not found: X-Header"


def test_os_error_fields_stay_unset():
    # code() is Poco's: an errno for socket errors but an SMTP status for
    # SMTPException, so it is not passed off as errno.
    exc = raised("ConnectionResetException", "", errno.ECONNRESET)
    assert isinstance(exc, OSError)
    assert exc.errno is None
    assert exc.strerror is None


def test_message_that_is_not_utf8_is_escaped():
    exc = raised("SMTPException", b"550 caf\xe9 closed", 550)
    assert exc.message() == "550 caf\\xe9 closed"


def test_nested_exception_is_translated_and_chained():
    inner = pocosmtp.ConnectionResetException("peer went away", errno.ECONNRESET)
    middle = pocosmtp.IOException("read failed", inner)
    exc = raised("SMTPException", "Cannot send message", 0, nested=middle)
    nested = exc.nested()
    assert type(nested) is pocosmtp.IOException
    assert nested.message() == "read failed"
    assert exc.__cause__ is nested
    deepest = nested.nested()
    assert type(deepest) is pocosmtp.ConnectionResetException
    assert isinstance(deepest, ConnectionResetError)
    assert deepest.code() == errno.ECONNRESET
    assert str(deepest) == "Connection reset by peer: peer went away"
    assert deepest.nested() is None


# ------------------------------------------------------------------ made in Python


def test_constructible_from_python_with_defaults():
    exc = pocosmtp.SMTPException()
    assert exc.message() == ""
    assert exc.code() == 0
    assert exc.nested() is None
    assert exc.name() == "SMTP Exception"
    assert exc.className() == "Poco::Net::SMTPException"
    assert str(exc) == "SMTP Exception"
    assert repr(exc) == "SMTPException()"


def test_accessors_work_before_init():
    exc = pocosmtp.SMTPException.__new__(pocosmtp.SMTPException)
    assert (exc.message(), exc.code(), exc.nested()) == ("", 0, None)
    assert str(exc) == "SMTP Exception"


def test_constructors_follow_poco_overloads():
    plain = pocosmtp.SMTPException("x", 421)
    assert (plain.message(), plain.code()) == ("x", 421)
    assert repr(plain) == "SMTPException('x', 421)"
    with_arg = pocosmtp.SMTPException("Login failed", "535 no", 535)
    assert with_arg.message() == "Login failed: 535 no"
    inner = pocosmtp.TimeoutException()
    with_nested = pocosmtp.SMTPException(msg="outer", nested=inner, code=1)
    assert with_nested.nested() is inner
    assert with_nested.__cause__ is inner
    with pytest.raises(TypeError, match="nested must be a PocoException"):
        pocosmtp.SMTPException("outer", ValueError("not Poco's"))  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        pocosmtp.SMTPException(421)  # type: ignore[call-overload]


def test_raise_and_catch_from_python():
    with pytest.raises(ConnectionRefusedError) as caught:
        raise pocosmtp.ConnectionRefusedException("127.0.0.1:25")
    assert str(caught.value) == "Connection refused: 127.0.0.1:25"


def test_python_subclass_inherits_the_accessors():
    class Rejected(pocosmtp.SMTPException):
        pass

    exc = Rejected("Recipient rejected: bob@example.org: 550 no", 550)
    assert exc.name() == "SMTP Exception"
    assert exc.reply() == "550 no"
    # The hook rebuilds it in C++ as its nearest bound class.
    outer = raised("NetException", "outer", nested=exc)
    assert type(outer.nested()) is pocosmtp.SMTPException


def test_pickle_round_trip_keeps_everything():
    exc = raised(
        "SMTPException", "Cannot send message: 554 5.7.1 rejected", 554,
        nested=pocosmtp.TimeoutException("slow"),
    )  # fmt: skip
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is pocosmtp.SMTPException
    assert copy.message() == exc.message()
    assert copy.code() == 554
    assert copy.reply() == "554 5.7.1 rejected"
    nested = copy.nested()
    assert type(nested) is pocosmtp.TimeoutException
    assert nested.message() == "slow"


def test_pickle_keeps_the_name_of_an_unbound_class():
    with pytest.raises(pocosmtp.DataException) as caught:
        _pocosmtp._raise_unbound("--to")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.className() == "Poco::Util::MissingArgumentException"
    assert str(copy) == "Missing option argument: --to"


# ------------------------------------------------------------------ SMTP replies


@pytest.mark.parametrize(
    ("text", "reply", "code", "expected"),
    [
        ("Login failed", "535 5.7.8 Bad credentials", 535, "535 5.7.8 Bad credentials"),
        ("Cannot send message", "554-first\n554 last", 554, "554-first\n554 last"),
        ("Recipient rejected: a@example.org", "550 5.1.1 a@example.org: no", 550,
         "550 5.1.1 a@example.org: no"),
        ("The mail service is unavailable", "421", 421, "421"),
        # Poco passes the reply but no status here: code() is 0, no reply.
        ("The mail service does not support LOGIN authentication", "250 AUTH PLAIN", 0, None),
        # A status that does not start the text after ': ' is not guessed at.
        ("Login failed", "5350 odd", 535, None),
    ],
)  # fmt: skip
def test_reply_is_taken_from_the_message(text, reply, code, expected):
    exc = raised("SMTPException", text, code, arg=reply)
    assert isinstance(exc, pocosmtp.SMTPException)
    assert exc.reply() == expected


def test_no_reply_without_a_status():
    assert pocosmtp.SMTPException("Invalid NTLM challenge").reply() is None
    assert not hasattr(pocosmtp.NetException, "reply")


def test_reply_of_a_real_refusal(scripted_peer):
    peer = scripted_peer(
        ["220 peer.test ESMTP", "554 5.7.1 no EHLO", "554-5.7.1 go away\r\n554 5.7.1 really"]
    )
    session = pocosmtp.SMTPClientSession("127.0.0.1", peer.port)
    with pytest.raises(pocosmtp.SMTPException) as caught:
        session.login("client.test")
    session.close()
    exc = caught.value
    assert peer.lines[:2] == ["EHLO client.test", "HELO client.test"]
    assert exc.code() == 554
    assert exc.reply() == "554-5.7.1 go away\n554 5.7.1 really"
    assert str(exc) == "SMTP Exception: Login failed: 554-5.7.1 go away\n554 5.7.1 really"
