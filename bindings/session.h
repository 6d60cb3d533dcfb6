// Machinery shared by the SMTPClientSession binding (session.cpp) and the
// SecureSMTPClientSession binding (tls.cpp), so both classes follow one
// lifetime, locking and timeout policy.
//
// Holder. Every session class is bound with SessionHolder<T>, a unique_ptr
// whose deleter releases the GIL while the C++ object is destroyed: Poco's
// destructor sends QUIT and waits for the reply, which may take the whole
// read timeout when the server has vanished. A derived class must use the
// same holder kind as its base, hence the template:
//
//     py::class_<SecureSMTPClientSession, SMTPClientSession,
//                SessionHolder<SecureSMTPClientSession>>
//
// Per-session state. Poco's session has no room for what the binding needs,
// so a SessionState lives in a side table keyed by the session's address
// (as Poco::Net::SMTPClientSession*). make_session() registers it, the
// holder's deleter removes it, after a ResourceWarning if the session is
// still open (Python has no finalizer hook for pybind11 objects, so the
// deleter, run when Python frees the object, is the one place). It holds:
//   - mutex: serialises every network call on one session; it is always
//     taken with the GIL released (run_locked does both), so a thread
//     waiting for it never blocks the interpreter;
//   - host: the host name given to the (host, port) constructor. Poco's own
//     _host stays empty because the binding connects the socket itself (to
//     bound the connect by a timeout) and constructs from the socket; code
//     that needs the name (STARTTLS: SNI and certificate host check) must
//     take it from here, not from Poco's protected host();
//   - closed / reason: set by close() and by an abort; every later network
//     call raises instead of talking to a dead or desynchronised socket,
//     and only a session never closed warns when freed.
//
// Typical use in a binding (GIL held on entry):
//
//     .def("startTLS", [](SecureSMTPClientSession& s) {
//         return run_locked(s, [&] { ... Poco call ... });
//     })
#pragma once

#include <Poco/Exception.h>
#include <Poco/Net/DialogSocket.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

namespace pocosmtp {

namespace py = pybind11;

// Poco's DEFAULT_TIMEOUT is protected; this is its value (30 s). The binding
// applies it to every session constructed from Python, and to the connect.
inline const Poco::Timespan kDefaultSessionTimeout(30, 0);

struct SessionState {
    std::mutex mutex;
    std::string host;
    std::string peer;                 // "address:port" at construction, for repr()
    std::atomic<bool> closed{false};  // read without the mutex by repr()
    std::string reason;               // why it is closed; guarded by mutex
};

// Removes the session's state; called by the holder before deletion.
void forget_session(const Poco::Net::SMTPClientSession* session) noexcept;

// Emits "unclosed <SMTPClientSession ...>" (ResourceWarning) if the session
// was never closed, as Python does for a socket; called by the holder before
// forget_session(). Does nothing unless this thread holds the GIL.
void warn_if_unclosed(const Poco::Net::SMTPClientSession* session) noexcept;

// Releases the GIL (when this thread holds it) around the delete.
struct ReleaseGilDelete {
    template <class T>
    void operator()(T* session) const noexcept {
        warn_if_unclosed(session);
        forget_session(session);
        if (PyGILState_Check()) {
            py::gil_scoped_release nogil;
            delete session;
        } else {
            delete session;
        }
    }
};

template <class T>
using SessionHolder = std::unique_ptr<T, ReleaseGilDelete>;

// The state of a session built by make_session(); throws if there is none.
std::shared_ptr<SessionState> session_state(const Poco::Net::SMTPClientSession& session);

// Poco's protected socket() accessor, for any session class.
Poco::Net::DialogSocket& session_socket(Poco::Net::SMTPClientSession& session);

// Connects a TCP socket to host:port, the connect bounded by timeout (name
// resolution is not: Poco resolves with the blocking getaddrinfo). The
// address is chosen exactly as Poco's SMTPClientSession(host, port) does.
// Call with the GIL released.
Poco::Net::StreamSocket connect_socket(const std::string& host, Poco::UInt16 port,
                                       const Poco::Timespan& timeout = kDefaultSessionTimeout);

// Poco's setTimeout() (the read timeout) plus the same send timeout on the
// session's socket: a server that stops reading must not block a send
// forever. Call with the session's lock held or before the session is shared.
void set_timeouts(Poco::Net::SMTPClientSession& session, const Poco::Timespan& timeout);

// Applies the binding's defaults to a fresh session (read timeout, TCP_NODELAY)
// and registers its state. Defined below for any session class.
void adopt_session(Poco::Net::SMTPClientSession& session, std::string host);

// Builds a session of class T from a connected socket: T(socket), then
// adopt_session(). host is what STARTTLS should verify ("" when unknown).
template <class T>
SessionHolder<T> make_session(const Poco::Net::StreamSocket& socket, std::string host = {}) {
    SessionHolder<T> session(new T(socket));
    adopt_session(*session, std::move(host));
    return session;
}

// Closes the connection without QUIT and marks the session closed; used
// when the dialogue can no longer be trusted (message data cut short).
void abort_session(Poco::Net::SMTPClientSession& session, SessionState& state,
                   const std::string& reason) noexcept;

// Raises Poco::IllegalStateException if the session is closed.
void check_not_closed(const SessionState& state);

// Runs f() or f(state) with the GIL released and the session's mutex held,
// after checking that the session is still usable. Call with the GIL held;
// anything f() returns must be a C++ value (Python objects need the GIL).
// Pass check_closed = false for calls that stay valid on a closed session.
//
// A Poco error that is not a complete SMTP reply (a timeout, a reset, a line
// too long to read whole) leaves the dialogue out of step: part of a reply,
// or a late one, may still arrive and would be read as the answer to the
// next command. The session is then aborted (closed without QUIT).
template <class F>
decltype(auto) run_locked(Poco::Net::SMTPClientSession& session, F&& f, bool check_closed = true) {
    std::shared_ptr<SessionState> state = session_state(session);
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(state->mutex);
    if (check_closed) check_not_closed(*state);
    try {
        if constexpr (std::is_invocable_v<F&, SessionState&>) {
            return f(*state);
        } else {
            return f();
        }
    } catch (const Poco::Net::SMTPException&) {
        throw;  // a whole reply was read
    } catch (const Poco::InvalidArgumentException&) {
        throw;  // refused by Poco before it waited for a reply
    } catch (const Poco::IllegalStateException&) {
        throw;  // the session was closed already
    } catch (const Poco::Exception& error) {
        abort_session(session, *state, "the dialogue broke off: " + error.displayText());
        throw;
    }
}

}  // namespace pocosmtp
