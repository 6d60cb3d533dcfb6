// Poco::Net::SocketAddress, Socket and StreamSocket.
//
// Socket is bound as the base of StreamSocket, as in Poco, so that tls.cpp
// can bind SecureStreamSocket on top and inherit every method here; the
// methods reach the socket's implementation through Poco's virtual calls,
// so they behave as Poco's own on a secure socket too. Sockets use the
// default holder: a Poco Socket is already a handle to a reference-counted
// implementation, and copies (a session's socket()) share the connection.
//
// GIL: every call that can wait on the network or the resolver (the
// connecting constructors, connect, send, receive, shutdown, close, poll and
// resolving a host name) runs with the GIL released; the other calls are
// single quick system calls made with it held.
//
// Known limit: Poco retries recv() and send() after EINTR, so Ctrl-C does not
// interrupt a blocking receiveBytes(); Python sees the KeyboardInterrupt only
// once the call returns. Set a receive timeout to bound the wait.
#include "conversions.h"
#include "init.h"
#include "reply_limit.h"

#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/SocketImpl.h>
#include <Poco/Net/StreamSocket.h>

#include <climits>
#include <functional>
#include <string>

namespace pocosmtp {

namespace py = pybind11;

using Poco::Net::Socket;
using Poco::Net::SocketAddress;
using Poco::Net::StreamSocket;

namespace {

using release_gil = py::call_guard<py::gil_scoped_release>;

// A contiguous, read-only view of any bytes-like object, held while the GIL
// is released; a held view also stops a bytearray from being resized.
class ReadView {
public:
    explicit ReadView(py::handle data) {
        if (PyObject_GetBuffer(data.ptr(), &view_, PyBUF_SIMPLE) != 0) {
            throw py::error_already_set();
        }
    }
    ~ReadView() { PyBuffer_Release(&view_); }
    ReadView(const ReadView&) = delete;
    ReadView& operator=(const ReadView&) = delete;

    const void* data() const { return view_.buf; }
    // Poco counts in int; a larger buffer is sent in part, as a short send.
    int size() const { return view_.len > INT_MAX ? INT_MAX : static_cast<int>(view_.len); }

private:
    Py_buffer view_{};
};

// Poco hands a negative timeout straight to the system, where it means no
// timeout at all: Linux reads a negative SO_RCVTIMEO of whole seconds as
// "wait forever" (and any other negative one as EDOM), poll() waits forever.
// A negative timedelta is always a mistake in the caller's arithmetic, so it
// is refused before it can turn into an endless wait.
Poco::Timespan timeout_arg(const Poco::Timespan& timeout) {
    if (timeout.totalMicroseconds() < 0) throw py::value_error("timeout must not be negative");
    return timeout;
}

std::string socket_repr(py::handle self) {
    const auto& socket = self.cast<const Socket&>();
    const std::string type = py::str(py::type::of(self).attr("__name__"));
    if (!socket.impl()->initialized()) return "<" + type + " unconnected>";
    try {
        return "<" + type + " " + socket.address().toString() + " -> " +
               socket.peerAddress().toString() + ">";
    } catch (const Poco::Exception&) {
        return "<" + type + " unconnected>";
    }
}

void bind_socket_address(py::module_& m) {
    py::class_<SocketAddress> address(
        m, "SocketAddress",
        "Poco::Net::SocketAddress: an IP address and a port. A host name given to a "
        "constructor is resolved there, with the GIL released.");

    py::enum_<Poco::Net::AddressFamily::Family>(address, "Family")
        .value("UNKNOWN", Poco::Net::AddressFamily::UNKNOWN)
        .value("IPv4", Poco::Net::AddressFamily::IPv4)
        .value("IPv6", Poco::Net::AddressFamily::IPv6)
        .value("UNIX_LOCAL", Poco::Net::AddressFamily::UNIX_LOCAL);

    address.def(py::init<>(), "The IPv4 wildcard address, port 0.")
        .def(py::init<const std::string&, Poco::UInt16>(), py::arg("hostAddress"),
             py::arg("portNumber"), release_gil())
        .def(py::init<const std::string&, const std::string&>(), py::arg("hostAddress"),
             py::arg("portNumber"), release_gil(), "portNumber as a number or a service name.")
        .def(py::init<const std::string&>(), py::arg("hostAndPort"), release_gil(),
             "'host:port', '[ipv6]:port', or a UNIX_LOCAL socket path.")
        .def(py::init<SocketAddress::Family, const std::string&, Poco::UInt16>(), py::arg("family"),
             py::arg("hostAddress"), py::arg("portNumber"), release_gil())
        .def(py::init<Poco::UInt16>(), py::arg("port"), "The IPv4 wildcard address.")
        .def(
            "host", [](const SocketAddress& a) { return a.host().toString(); },
            "The IP address, as a string.")
        .def("port", &SocketAddress::port)
        .def("family", &SocketAddress::family)
        .def("toString", &SocketAddress::toString)
        .def("__str__", &SocketAddress::toString)
        .def("__repr__",
             [](const SocketAddress& a) {
                 return "SocketAddress(" + py::repr(py::str(a.toString())).cast<std::string>() +
                        ")";
             })
        .def(
            "__eq__", [](const SocketAddress& a, const SocketAddress& b) { return a == b; },
            py::is_operator())
        .def(
            "__ne__", [](const SocketAddress& a, const SocketAddress& b) { return a != b; },
            py::is_operator())
        .def(
            "__lt__", [](const SocketAddress& a, const SocketAddress& b) { return a < b; },
            py::is_operator())
        .def("__hash__",
             [](const SocketAddress& a) { return std::hash<std::string>()(a.toString()); });
}

void bind_socket(py::module_& m) {
    py::class_<Socket> socket(
        m, "Socket",
        "Poco::Net::Socket, the base of the socket classes; not constructed directly. "
        "Usable as a context manager that closes the socket on exit.");

    socket.attr("SELECT_READ") = static_cast<int>(Socket::SELECT_READ);
    socket.attr("SELECT_WRITE") = static_cast<int>(Socket::SELECT_WRITE);
    socket.attr("SELECT_ERROR") = static_cast<int>(Socket::SELECT_ERROR);

    socket.def("close", &Socket::close, release_gil())
        .def(
            "poll",
            [](const Socket& s, const Poco::Timespan& timeout, int mode) {
                const Poco::Timespan checked = timeout_arg(timeout);
                py::gil_scoped_release nogil;
                return s.poll(checked, mode);
            },
            py::arg("timeout"), py::arg("mode"),
            "True when the socket is ready for mode (SELECT_* flags, or-ed) within timeout.")
        .def("available", &Socket::available, "Bytes that can be read without blocking.")
        .def(
            "setSendTimeout",
            [](Socket& s, const Poco::Timespan& t) { s.setSendTimeout(timeout_arg(t)); },
            py::arg("timeout"))
        .def("getSendTimeout", &Socket::getSendTimeout)
        .def(
            "setReceiveTimeout",
            [](Socket& s, const Poco::Timespan& t) { s.setReceiveTimeout(timeout_arg(t)); },
            py::arg("timeout"),
            "Applies to receiveBytes(); the system rounds it to its clock tick "
            "(getReceiveTimeout() shows the result).")
        .def("getReceiveTimeout", &Socket::getReceiveTimeout)
        .def("setNoDelay", &Socket::setNoDelay, py::arg("flag"))
        .def("getNoDelay", &Socket::getNoDelay)
        .def("setKeepAlive", &Socket::setKeepAlive, py::arg("flag"))
        .def("getKeepAlive", &Socket::getKeepAlive)
        .def("setBlocking", &Socket::setBlocking, py::arg("flag"))
        .def("getBlocking", &Socket::getBlocking)
        .def("address", &Socket::address, "The local address.")
        .def("peerAddress", &Socket::peerAddress)
        .def("secure", &Socket::secure, "True for a TLS socket.")
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__",
             [](Socket& s, const py::args&) {
                 py::gil_scoped_release nogil;
                 s.close();
             })
        .def(
            "__eq__", [](const Socket& a, const Socket& b) { return a == b; }, py::is_operator(),
            "True when both share one connection (one implementation).")
        .def("__hash__", [](const Socket& s) { return std::hash<const void*>()(s.impl()); })
        .def("__repr__", &socket_repr);
}

void bind_stream_socket(py::module_& m) {
    // Poco's constructors, on the implementation that bounds a reply once a
    // session adopts the socket (reply_limit.h); until then it reads as Poco's.
    py::class_<StreamSocket, Socket>(m, "StreamSocket", "Poco::Net::StreamSocket: a TCP client.")
        .def(py::init([] { return limited_stream_socket(); }),
             "An unconnected socket; connect() it before use.")
        .def(py::init([](const SocketAddress& address) {
                 StreamSocket socket = limited_stream_socket(address.family());
                 socket.connect(address);
                 return socket;
             }),
             py::arg("address"), release_gil(), "Connects to address.")
        .def(py::init([](SocketAddress::Family family) { return limited_stream_socket(family); }),
             py::arg("family"),
             "An unconnected socket of the given family, for options set before connect().")
        .def("connect", py::overload_cast<const SocketAddress&>(&StreamSocket::connect),
             py::arg("address"), release_gil())
        .def(
            "connect",
            [](StreamSocket& s, const SocketAddress& address, const Poco::Timespan& timeout) {
                const Poco::Timespan checked = timeout_arg(timeout);
                py::gil_scoped_release nogil;
                s.connect(address, checked);
            },
            py::arg("address"), py::arg("timeout"),
            "Connects, raising TimeoutException if it takes longer than timeout.")
        .def("connectNB", &StreamSocket::connectNB, py::arg("address"), release_gil(),
             "Starts connecting and returns at once; the socket is left non-blocking.")
        .def("shutdownReceive", &StreamSocket::shutdownReceive, release_gil())
        .def("shutdownSend", &StreamSocket::shutdownSend, release_gil())
        .def("shutdown", &StreamSocket::shutdown, release_gil())
        .def(
            "sendBytes",
            [](StreamSocket& s, py::buffer data, int flags) {
                ReadView view(data);
                py::gil_scoped_release nogil;
                return s.sendBytes(view.data(), view.size(), flags);
            },
            py::arg("data"), py::arg("flags") = 0,
            "Sends a bytes-like object; returns the number of bytes sent (all of them on a "
            "blocking socket, -1 if a non-blocking socket would block).")
        .def(
            "receiveBytes",
            [](StreamSocket& s, int length, int flags) -> py::object {
                if (length < 0) throw py::value_error("length must not be negative");
                std::string buffer(static_cast<std::size_t>(length), '\0');
                int n = 0;
                {
                    py::gil_scoped_release nogil;
                    n = s.receiveBytes(buffer.data(), length, flags);
                }
                if (n < 0) return py::none();  // a non-blocking socket with nothing to read
                return py::bytes(buffer.data(), static_cast<std::size_t>(n));
            },
            py::arg("length"), py::arg("flags") = 0,
            "Receives at most length bytes: b'' once the peer has shut down its side, None "
            "on a non-blocking socket with nothing to read; raises TimeoutException when "
            "the receive timeout passes.");
}

}  // namespace

void init_socket(py::module_& m) {
    bind_socket_address(m);
    bind_socket(m);
    bind_stream_socket(m);

    // Test hooks for conversions.h: a Timespan and a Timestamp through C++ and
    // back. Socket timeouts cannot show exactness: the kernel keeps them in
    // scheduler ticks.
    m.def("_roundtrip_timespan", [](const Poco::Timespan& span) { return span; }, py::arg("span"));
    m.def("_roundtrip_timestamp", [](const Poco::Timestamp& ts) { return ts; }, py::arg("ts"));
}

}  // namespace pocosmtp
