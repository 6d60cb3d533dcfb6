// Poco::Net::SMTPClientSession, bound one-to-one, plus the shared session
// machinery declared in session.h.
//
// Deviations from the C++ class, each deliberate (for the user docs):
//
//  1. Timeouts. Every session constructed from Python starts with a 30 s
//     read timeout (Poco's DEFAULT_TIMEOUT, exposed as
//     SMTPClientSession.DEFAULT_TIMEOUT); Poco's sessions wait forever.
//     setTimeout() sets the send timeout too (Poco's sets only the read
//     timeout), so a server that stops reading cannot block a send. A
//     session built on a socket sets them on that socket, which it shares.
//  2. Bounded connect. SMTPClientSession(host, port) connects with the same
//     30 s limit (Poco's constructor has none): the binding connects the
//     socket itself, choosing the address as Poco does, and builds the
//     session from it. Poco's private _host therefore stays empty. In
//     SMTPClientSession it only feeds Windows SSPI NTLM (login with
//     AUTH_NTLM and empty credentials), which Poco offers only on Windows;
//     STARTTLS takes the host name from the binding's session state.
//     Name resolution itself is not bounded.
//  3. TCP_NODELAY is set on the session's socket. No byte on the wire
//     changes; without it Nagle and delayed ACKs cost ~40 ms per command.
//  4. Aborted dialogues. If sendMessage() fails for any reason other than
//     an SMTP reply (a Python stream raising, a network error, a timeout),
//     the server may still be inside DATA, where later bytes would complete
//     a truncated message. Any other call that fails without a whole reply
//     (a timeout, a reset, a reply line too long) leaves a reply, or part of
//     one, unread, which would be taken for the answer to the next command.
//     Either way the binding closes the socket without QUIT and marks the
//     session closed (run_locked in session.h, send_guarded below).
//  5. close() always ends the connection: after QUIT, or without it when
//     the session was never opened or QUIT fails (Poco then keeps the
//     socket open and retries QUIT in its destructor). close() on a closed
//     session does nothing; every other network call on it raises
//     pocosmtp's IllegalStateException saying why the session is closed
//     (Poco would raise "Invalid socket", or write to a desynchronised
//     dialogue).
//  6. Threads. Calls on one session from several threads are serialised by
//     a per-session mutex; calls on different sessions run in parallel. The
//     GIL is released around every call that touches the network,
//     including the destructor (which sends QUIT).
//  7. sendCommand() returns (status, response) instead of filling an
//     out-parameter.
//  8. Leaving a with block closes the session; when the block raised, an
//     error from close() itself is dropped so the block's error surfaces.
//  9. Security guards (guards.h): CR or LF in a command, its argument, an
//     envelope address, an EHLO host name or an AUTH user name is refused
//     before anything is sent; sendMessage() takes MAIL FROM from the From
//     field by RFC 5322's rules (Poco cuts at the first '<'), refuses a
//     message whose header fields would inject lines, sends every line end
//     of the data as CRLF (no bare CR or LF can end DATA early), and never
//     transmits a Bcc field. sendMessage(message) therefore runs Poco's
//     public steps (sendAddresses, sendData, then the data through Poco's
//     MailOutputStream) instead of its private sendCommands/transportMessage,
//     with the same commands and errors.
// 10. Reply bounds (reply_limit.h). A reply may be at most 1 MiB: Poco
//     keeps every continuation line of a multi-line reply in one string, so
//     an endless "250-" stream would exhaust memory (a real EHLO reply is
//     under 2 KB); past the limit MessageException is raised. A multi-line
//     reply cut by the end of the stream raises ConnectionAbortedException:
//     Poco reads each end of stream as one more line of status 0 and would
//     loop forever. A single end of stream still reads as Poco's empty
//     reply with status 0. Either error aborts the session. The checks sit
//     in the socket's implementation, DialogSocket's only path to the
//     network, so they hold on sockets the binding made (all of them, from
//     Python); they are on once a session adopts the socket.
//
// Known limit: Poco retries a read interrupted by a signal, so Ctrl-C during
// a blocking call takes effect only when the call returns (at the latest
// after the read timeout); hence the finite default.
#include "session.h"

#include <Poco/Exception.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailStream.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/StreamCopier.h>
#include <pybind11/native_enum.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <typeinfo>
#include <unordered_map>

#include "conversions.h"
#include "guards.h"
#include "init.h"
#include "message.h"
#include "pystreams.h"
#include "reply_limit.h"

namespace pocosmtp {

using Poco::Net::MailMessage;
using Poco::Net::SMTPClientSession;

// ---------------------------------------------------------------- session state

namespace {

// Sessions are created and destroyed with the GIL held, but the table is
// also read from threads that released it, hence its own mutex.
std::mutex registry_mutex;
std::unordered_map<const SMTPClientSession*, std::shared_ptr<SessionState>>& registry() {
    // Leaked on purpose: sessions may still be freed during interpreter
    // shutdown, after static destructors would have run.
    static auto* table =
        new std::unordered_map<const SMTPClientSession*, std::shared_ptr<SessionState>>();
    return *table;
}

// Reaches Poco's protected socket() for any SMTPClientSession; never
// instantiated.
struct SocketAccess : SMTPClientSession {
    static Poco::Net::DialogSocket& of(SMTPClientSession& session) {
        Poco::Net::DialogSocket& (SMTPClientSession::*get)() = &SocketAccess::socket;
        return (session.*get)();
    }
};

bool socket_is_open(Poco::Net::StreamSocket& socket) {
    return socket.impl()->sockfd() != POCO_INVALID_SOCKET;
}

// "<SMTPClientSession host address:port[ closed]>", shared by repr() and the
// ResourceWarning so that the warning names the session as the user saw it.
std::string describe(const std::string& class_name, const SessionState& state) {
    std::string where = state.host.empty() ? state.peer : state.host + " " + state.peer;
    return "<" + class_name + " " + where + (state.closed ? " closed>" : ">");
}

bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

}  // namespace

void set_timeouts(SMTPClientSession& session, const Poco::Timespan& timeout) {
    session.setTimeout(timeout);
    session_socket(session).setSendTimeout(timeout);
}

void forget_session(const SMTPClientSession* session) noexcept {
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry().erase(session);
}

void warn_if_unclosed(const SMTPClientSession* session) noexcept {
    // During shutdown the warnings machinery may already be torn down.
    if (!Py_IsInitialized() || interpreter_finalizing() || !PyGILState_Check()) return;
    std::shared_ptr<SessionState> state;
    {
        std::lock_guard<std::mutex> lock(registry_mutex);
        auto found = registry().find(session);
        if (found == registry().end()) return;  // its construction failed: nothing was open
        state = found->second;
    }
    if (state->closed) return;

    // The object may be freed while an exception propagates; that one must
    // survive the warning call.
    py::error_scope pending;
    // pybind11 has already unlinked the Python object, so the class comes
    // from the C++ type: a Python subclass is named by its bound base.
    py::handle cls;
    std::string name = "SMTPClientSession";
    try {
        if (const auto* info = py::detail::get_type_info(typeid(*session))) {
            cls = reinterpret_cast<PyObject*>(info->type);
            name = py::str(cls.attr("__qualname__")).cast<std::string>();
        }
    } catch (...) {
        PyErr_Clear();  // keep the generic name
    }
    const std::string text = describe(name, *state);
    if (PyErr_ResourceWarning(nullptr, 1, "unclosed %s", text.c_str()) < 0) {
        // Warnings turned into errors: a destructor cannot raise, so report it
        // the way Python reports an error in __del__.
        PyErr_WriteUnraisable(cls ? cls.ptr() : Py_None);
    }
}

std::shared_ptr<SessionState> session_state(const SMTPClientSession& session) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto found = registry().find(&session);
    if (found == registry().end()) {
        throw std::logic_error("pocosmtp: session was not built by make_session()");
    }
    return found->second;
}

Poco::Net::DialogSocket& session_socket(SMTPClientSession& session) {
    return SocketAccess::of(session);
}

Poco::Net::StreamSocket connect_socket(const std::string& host, Poco::UInt16 port,
                                       const Poco::Timespan& timeout) {
    // SocketAddress(host, port) is the very call Poco's constructor makes,
    // so the same address is picked.
    Poco::Net::SocketAddress address(host, port);
    Poco::Net::StreamSocket socket = limited_stream_socket(address.family());
    socket.connect(address, timeout);
    return socket;
}

void adopt_session(SMTPClientSession& session, std::string host) {
    set_timeouts(session, kDefaultSessionTimeout);
    Poco::Net::DialogSocket& socket = session_socket(session);
    try {
        socket.setNoDelay(true);
    } catch (const Poco::Exception&) {
        // Not TCP (a local socket): there is no Nagle to turn off.
    }
    // Deviation 10. A socket on Poco's own implementation (C++ code; never
    // one built from Python) cannot be bounded and is left as Poco has it.
    limit_replies(socket);
    auto state = std::make_shared<SessionState>();
    state->host = std::move(host);
    try {
        state->peer = socket.peerAddress().toString();
    } catch (const Poco::Exception&) {
        state->peer = "unconnected";
    }
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry()[&session] = std::move(state);
}

void abort_session(SMTPClientSession& session, SessionState& state,
                   const std::string& reason) noexcept {
    try {
        session_socket(session).close();
    } catch (...) {
        // Closing an already dead socket; nothing left to release.
    }
    if (state.closed) return;  // the first reason is the one that explains
    state.reason = reason;
    state.closed = true;
}

void check_not_closed(const SessionState& state) {
    if (state.closed) {
        throw Poco::IllegalStateException("the SMTP session is closed", state.reason);
    }
}

// ---------------------------------------------------------------- binding

namespace {

// Sends a message with Poco, aborting the connection when the failure may
// have left the server inside DATA (see deviation 4 at the top).
template <class Send>
void send_guarded(SMTPClientSession& session, SessionState& state, bool no_recipients,
                  Send&& send) {
    try {
        send();
    } catch (const Poco::Net::SMTPException&) {
        throw;  // a complete reply: the dialogue is still in step
    } catch (const Poco::InvalidArgumentException&) {
        // Poco refuses an empty recipient list after MAIL FROM, before DATA.
        if (!no_recipients) {
            abort_session(session, state, "sending the message failed part-way");
        }
        throw;
    } catch (...) {
        abort_session(session, state, "sending the message failed part-way");
        throw;
    }
}

// Poco's transportMessage() and sendMessage(istream), with the message data
// passing through the DataGuardStream (guards.h) on its way to Poco's
// MailOutputStream, which stuffs dots and writes the final "." line.
template <class Write>
void transport(SMTPClientSession& session, Write&& write) {
    Poco::Net::DialogSocket& socket = session_socket(session);
    Poco::Net::SocketOutputStream socketStream(socket);
    Poco::Net::MailOutputStream mailStream(socketStream);
    DataGuardStream guarded(mailStream);
    write(guarded);
    guarded.finish();
    mailStream.close();
    socketStream.flush();

    std::string response;
    const int status = socket.receiveStatusMessage(response);
    if (status / 100 != 2) {
        throw Poco::Net::SMTPException("The server rejected the message", response, status);
    }
}

// Poco's sendMessage(message[, recipients]) as its public steps, so that the
// envelope sender is the one envelope_sender() finds and the data is
// guarded; the commands and errors are Poco's own (sendCommands() is
// sendAddresses() followed by sendData(), word for word).
void send_composed(SMTPClientSession& session, const MailMessage& message,
                   const SMTPClientSession::Recipients* explicit_recipients) {
    InUse busy(message_objects(message), Use::writing);
    require_clean_message(message);
    const std::string sender = envelope_sender(message.getSender());
    SMTPClientSession::Recipients of_message;
    if (!explicit_recipients) {
        for (const auto& recipient : message.recipients()) {
            of_message.push_back(recipient.getAddress());
        }
    }
    const SMTPClientSession::Recipients& recipients =
        explicit_recipients ? *explicit_recipients : of_message;
    for (const auto& address : recipients) require_single_line(address, "a recipient address");
    run_locked(session, [&](SessionState& state) {
        send_guarded(session, state, recipients.empty(), [&] {
            session.sendAddresses(sender, recipients);
            session.sendData();
            transport(session, [&](std::ostream& out) { message.write(out); });
        });
    });
}

void close_session(SMTPClientSession& session) {
    std::shared_ptr<SessionState> state = session_state(session);
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->closed) return;
    try {
        session.close();
    } catch (...) {
        abort_session(session, *state, "close() was called (QUIT failed)");
        throw;
    }
    // Poco sends QUIT only to an opened session; the socket goes regardless.
    abort_session(session, *state, "close() was called");
}

}  // namespace

void init_session(py::module_& m) {
    // conversions.h reads CPython's PyDateTimeAPI, a static in every
    // translation unit, but fills it through an inline (merged) function:
    // this unit's copy has to be filled here.
    py::detail::ensure_datetime_api();
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) throw py::error_already_set();

    using Poco::Net::StreamSocket;
    using Recipients = SMTPClientSession::Recipients;

    py::class_<SMTPClientSession, SessionHolder<SMTPClientSession>> cls(
        m, "SMTPClientSession",
        "A Simple Mail Transfer Protocol (SMTP, RFC 2821) client for sending e-mail.\n\n"
        "Poco's SMTPClientSession with these differences: a 30 s read timeout and\n"
        "connect timeout by default (Poco has none), TCP_NODELAY on the socket, the\n"
        "connection aborted (no QUIT) when sending message data fails part-way, calls\n"
        "from several threads serialised, and sendCommand() returning (status, response).\n"
        "Usable as a context manager: the with block ends with close(). A session\n"
        "garbage-collected while still open emits a ResourceWarning, as an unclosed\n"
        "socket does, and then sends QUIT.");

    py::native_enum<SMTPClientSession::LoginMethod>(cls, "LoginMethod", "enum.IntEnum",
                                                    "Authentication method for login().")
        .value("AUTH_NONE", SMTPClientSession::AUTH_NONE, "Greet the server only.")
        .value("AUTH_CRAM_MD5", SMTPClientSession::AUTH_CRAM_MD5)
        .value("AUTH_CRAM_SHA1", SMTPClientSession::AUTH_CRAM_SHA1)
        .value("AUTH_LOGIN", SMTPClientSession::AUTH_LOGIN)
        .value("AUTH_PLAIN", SMTPClientSession::AUTH_PLAIN)
        .value("AUTH_XOAUTH2", SMTPClientSession::AUTH_XOAUTH2,
               "password is the OAuth 2 bearer token.")
        .value("AUTH_NTLM", SMTPClientSession::AUTH_NTLM)
        .export_values()
        .finalize();

    cls.attr("SMTP_PORT") = static_cast<int>(SMTPClientSession::SMTP_PORT);
    // Poco's DEFAULT_TIMEOUT is an enum counting microseconds (30000000).
    cls.attr("DEFAULT_TIMEOUT") = py::cast(kDefaultSessionTimeout);

    // ------------------------------------------------------------ construction

    cls.def(py::init(
                [](const StreamSocket& socket) { return make_session<SMTPClientSession>(socket); }),
            py::arg("socket"),
            "Creates the session on a socket already connected to an SMTP server.\n\n"
            "The session shares the socket; its read timeout is set to DEFAULT_TIMEOUT\n"
            "(30 s) and TCP_NODELAY is turned on.");

    cls.def(py::init([](const std::string& host, Poco::UInt16 port) {
                StreamSocket socket;
                {
                    py::gil_scoped_release nogil;
                    socket = connect_socket(host, port);
                }
                return make_session<SMTPClientSession>(socket, host);
            }),
            py::arg("host"), py::arg("port") = static_cast<int>(SMTPClientSession::SMTP_PORT),
            "Creates the session on a new connection to host:port.\n\n"
            "Unlike Poco, the connect gives up after DEFAULT_TIMEOUT (30 s) with\n"
            "TimeoutError; a refused connection raises ConnectionRefusedError. The read\n"
            "timeout starts at DEFAULT_TIMEOUT too.");

    // ------------------------------------------------------------ timeout

    // Under the session's lock too: STARTTLS swaps the socket these touch.
    cls.def(
        "setTimeout",
        [](SMTPClientSession& self, const Poco::Timespan& timeout) {
            run_locked(self, [&] { set_timeouts(self, timeout); }, false);
        },
        py::arg("timeout"),
        "Sets the timeout (datetime.timedelta) for socket read operations and, unlike Poco,\n"
        "for writes too, so a server that stops reading cannot block a send forever.");
    cls.def(
        "getTimeout",
        [](SMTPClientSession& self) {
            return run_locked(self, [&] { return self.getTimeout(); }, false);
        },
        "Returns the timeout (datetime.timedelta) for socket read operations.");

    // ------------------------------------------------------------ dialogue

    cls.def(
        "open", [](SMTPClientSession& self) { run_locked(self, [&] { self.open(); }); },
        "Reads the server's greeting; raises SMTPException unless it is positive.\n\n"
        "Usually called by login(). Does nothing if called more than once.");

    cls.def(
        "login", [](SMTPClientSession& self) { run_locked(self, [&] { self.login(); }); },
        "Greets the server with EHLO (HELO if EHLO is refused) and this machine's name.");
    cls.def(
        "login",
        [](SMTPClientSession& self, const std::string& hostname) {
            require_single_line(hostname, "the host name for EHLO");
            run_locked(self, [&] { self.login(hostname); });
        },
        py::arg("hostname"),
        "Greets the server with EHLO hostname, or HELO hostname if EHLO is refused.");
    cls.def(
        "login",
        [](SMTPClientSession& self, const std::string& hostname,
           SMTPClientSession::LoginMethod loginMethod, const std::string& username,
           const std::string& password) {
            require_single_line(hostname, "the host name for EHLO");
            require_single_line(username, "the user name");
            run_locked(self, [&] { self.login(hostname, loginMethod, username, password); });
        },
        py::arg("hostname"), py::arg("loginMethod"), py::arg("username"), py::arg("password"),
        "Greets the server as hostname, then authenticates with loginMethod.\n\n"
        "Raises SMTPException when the server does not offer the method or refuses the\n"
        "credentials (code() is the server's status, e.g. 535).");
    cls.def(
        "login",
        [](SMTPClientSession& self, SMTPClientSession::LoginMethod loginMethod,
           const std::string& username, const std::string& password) {
            require_single_line(username, "the user name");
            run_locked(self, [&] { self.login(loginMethod, username, password); });
        },
        py::arg("loginMethod"), py::arg("username"), py::arg("password"),
        "Greets the server with this machine's name, then authenticates with loginMethod.");

    cls.def(
        "sendCommand",
        [](SMTPClientSession& self, const std::string& command) {
            require_single_line(command, "the command");
            std::string response;
            int status = run_locked(self, [&] { return self.sendCommand(command, response); });
            return py::make_tuple(status, response);
        },
        py::arg("command"),
        "Sends command verbatim and returns the reply as (status, response).\n\n"
        "A negative reply is returned, not raised.");
    cls.def(
        "sendCommand",
        [](SMTPClientSession& self, const std::string& command, const std::string& arg) {
            require_single_line(command, "the command");
            require_single_line(arg, "the command's argument");
            std::string response;
            int status = run_locked(self, [&] { return self.sendCommand(command, arg, response); });
            return py::make_tuple(status, response);
        },
        py::arg("command"), py::arg("arg"),
        "Sends 'command arg' and returns the reply as (status, response).");

    cls.def(
        "sendAddresses",
        [](SMTPClientSession& self, const std::string& from, const Recipients& recipients) {
            require_single_line(from, "the sender address");
            for (const auto& address : recipients) {
                require_single_line(address, "a recipient address");
            }
            run_locked(self, [&] { self.sendAddresses(from, recipients); });
        },
        py::arg("from_"), py::arg("recipients"),
        "Sends MAIL FROM for from_ and RCPT TO for every recipient.\n\n"
        "Poco names the first parameter 'from', a Python keyword. Raises SMTPException\n"
        "on a negative reply.");
    cls.def(
        "sendData", [](SMTPClientSession& self) { run_locked(self, [&] { self.sendData(); }); },
        "Sends DATA; raises SMTPException unless the server answers 3xx.");

    // The MailMessage overloads come first: a stream accepts any object.
    cls.def(
        "sendMessage",
        [](SMTPClientSession& self, const MailMessage& message) {
            send_composed(self, message, nullptr);
        },
        py::arg("message"),
        "Sends MAIL FROM, RCPT TO for each of the message's recipients, DATA, and the\n"
        "message. Raises SMTPException on a negative reply.");
    cls.def(
        "sendMessage",
        [](SMTPClientSession& self, const MailMessage& message, const Recipients& recipients) {
            send_composed(self, message, &recipients);
        },
        py::arg("message"), py::arg("recipients"),
        "Like sendMessage(message), with RCPT TO for the given addresses instead of\n"
        "the message's recipients.");
    cls.def(
        "sendMessage",
        [](SMTPClientSession& self, py::object istr) {
            PyInputStream in(std::move(istr));
            run_locked(self, [&](SessionState& state) {
                send_guarded(self, state, false, [&] {
                    transport(self, [&](std::ostream& out) {
                        Poco::StreamCopier::copyStream(in, out, kChunk);
                    });
                });
            });
        },
        py::arg("istr"),
        "Sends the message data read from istr (bytes or a readable binary file),\n"
        "dot-stuffed, and the final '.'; call after sendAddresses() and sendData().\n\n"
        "If reading istr raises, the connection is aborted so the truncated message\n"
        "cannot be delivered, and the session is closed.");

    cls.def("close", &close_session,
            "Sends QUIT (if the session was opened) and closes the connection.\n\n"
            "The connection is closed even when QUIT fails. Does nothing if already closed.");

    // ------------------------------------------------------------ Python protocols

    cls.def("__enter__", [](py::object self) { return self; });
    cls.def(
        "__exit__",
        [](SMTPClientSession& self, py::handle type, py::handle, py::handle) {
            if (type.is_none()) {
                close_session(self);
                return false;
            }
            try {
                close_session(self);
            } catch (const Poco::Exception&) {
                // The connection is gone either way; the block's error matters.
            }
            return false;
        },
        "Calls close(). If the with block raised, an error from close() is dropped.");
    cls.def("__repr__", [](py::handle self) {
        const auto& session = self.cast<const SMTPClientSession&>();
        return describe(py::str(py::type::of(self).attr("__qualname__")).cast<std::string>(),
                        *session_state(session));
    });
}

}  // namespace pocosmtp
