// Poco's NetSSL_OpenSSL client side: Context, X509Certificate,
// SecureStreamSocket and SecureSMTPClientSession, bound one-to-one.
//
// Deviations from the C++ classes, each deliberate (for the user docs):
//
//  1. Safe default Context. Wherever Poco would take SSLManager's default
//     client context (a constructor or startTLS() without a Context), the
//     binding uses its own: TLS_CLIENT_USE, the system CA store
//     (loadDefaultCAs), VERIFY_STRICT, extended certificate verification
//     (host name check) on, TLS 1.2 minimum. VERIFY_STRICT rather than
//     VERIFY_RELAXED because Poco skips the host name check for loopback
//     addresses in every other mode. It is made on first use, so
//     SSL_CERT_FILE / SSL_CERT_DIR set before then are honoured, and it is
//     what SSLManager.instance().defaultClientContext() returns. A Context
//     the user builds keeps exactly the settings given.
//  2. Host name for SNI and verification. SecureSMTPClientSession(host, port)
//     verifies against host; SecureSMTPClientSession(socket) against the
//     socket's peer host name when it is a SecureStreamSocket that has one.
//     Otherwise no name is known and Poco's rule applies: the certificate
//     must name the peer's IP address; the error then says so and how to
//     give a name.
//  3. Clear certificate errors. A chain that fails verification (self-signed,
//     expired, unknown issuer...) raises CertificateValidationException
//     "Unacceptable certificate from <host>: <OpenSSL's reason> (...)";
//     Poco raises a bare SSLException "certificate verify failed". A host
//     name mismatch says so instead of "application verification failure".
//  4. Nothing prompts and nothing reads an application configuration. At
//     import, Poco::Net::initializeSSL() runs and SSLManager is initialised
//     for clients with a RejectCertificateHandler (which also records why a
//     certificate was refused, for deviation 3) and a passphrase handler
//     that supplies an empty passphrase: an encrypted private key fails to
//     load with SSLContextException instead of asking on the console
//     (Poco's default is KeyConsoleHandler). Server-side SSLManager use is
//     not initialised: this package is a client.
//  5. startTLS() raises SMTPException carrying the server's reply (and code())
//     when the server refuses STARTTLS (e.g. does not offer it); Poco returns
//     False and the session carries on in plain text. On success it returns
//     True, as Poco does.
//  6. startTLS() completes the handshake before returning, bounded by the
//     session timeout, and checks the certificate again afterwards. Poco's
//     attach() returns early when the read timeout expires mid-handshake,
//     with the certificate unchecked. If the handshake fails, the connection
//     is aborted (no QUIT in plain text) and the session is closed.
//  7. The same completion check follows every handshake a binding starts
//     (SecureStreamSocket constructors with an address, connect(), attach()),
//     unless the lazy handshake is on.
//  8. The GIL is released around every handshake, startTLS() and host name
//     check (which may resolve names).
#include <Poco/Crypto/EVPPKey.h>
#include <Poco/DateTime.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/PrivateKeyPassphraseHandler.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureSMTPClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SecureStreamSocketImpl.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/VerificationErrorArgs.h>
#include <Poco/Net/X509Certificate.h>
#include <pybind11/native_enum.h>
#include <pybind11/stl.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "conversions.h"
#include "init.h"
#include "pystreams.h"
#include "reply_limit.h"
#include "session.h"

// Context is reference counted inside (Poco::RefCountedObject): AutoPtr as
// the holder shares that one count with C++, so a Context passed to a
// socket outlives the Python object and is freed exactly once.
PYBIND11_DECLARE_HOLDER_TYPE(T, Poco::AutoPtr<T>, true)

namespace pocosmtp {

using Poco::Net::Context;
using Poco::Net::SecureSMTPClientSession;
using Poco::Net::SecureStreamSocket;
using Poco::Net::SocketAddress;
using Poco::Net::StreamSocket;
using Poco::Net::X509Certificate;

namespace {

// ---------------------------------------------------------------- SSLManager set-up

// Why the last certificate was refused on this thread. The verify callback
// runs inside OpenSSL, on the thread doing the handshake, where throwing is
// not allowed; it records here and the binding raises once Poco returns.
struct Refusal {
    bool refused = false;
    std::string reason;
    int depth = 0;
    std::string subject;
};
thread_local Refusal t_refusal;

class RecordingRejectHandler : public Poco::Net::RejectCertificateHandler {
public:
    RecordingRejectHandler() : RejectCertificateHandler(false) {}

    void onInvalidCertificate(const void* sender, Poco::Net::VerificationErrorArgs& args) override {
        // With VERIFY_NONE OpenSSL reports problems but goes on regardless.
        if (!t_refusal.refused && args.context()->verificationMode() != Context::VERIFY_NONE) {
            t_refusal.refused = true;
            t_refusal.reason = args.errorMessage();
            t_refusal.depth = args.errorDepth();
            t_refusal.subject = args.certificate().subjectName();
        }
        RejectCertificateHandler::onInvalidCertificate(sender, args);
    }
};

class NoPassphraseHandler : public Poco::Net::PrivateKeyPassphraseHandler {
public:
    NoPassphraseHandler() : PrivateKeyPassphraseHandler(false) {}

    void onPrivateKeyRequested(const void*, std::string& privateKey) override {
        privateKey.clear();
    }
};

// Made once at import; SSLManager keeps its own references to both.
Poco::SharedPtr<Poco::Net::PrivateKeyPassphraseHandler>& passphrase_handler() {
    static auto* handler = new Poco::SharedPtr<Poco::Net::PrivateKeyPassphraseHandler>();
    return *handler;
}
Poco::SharedPtr<Poco::Net::InvalidCertificateHandler>& certificate_handler() {
    static auto* handler = new Poco::SharedPtr<Poco::Net::InvalidCertificateHandler>();
    return *handler;
}

std::mutex default_context_mutex;

// The binding's default client Context (deviation 1), made on first use.
Context::Ptr default_client_context() {
    std::lock_guard<std::mutex> lock(default_context_mutex);
    // Leaked on purpose: freeing an SSL_CTX after OpenSSL's own atexit
    // clean-up crashes, and sockets may outlive static destructors.
    static auto* context = new Context::Ptr();
    if (!*context) {
        Context::Params params;
        params.loadDefaultCAs = true;
        params.verificationMode = Context::VERIFY_STRICT;
        Context::Ptr made(new Context(Context::TLS_CLIENT_USE, params));
        made->requireMinimumProtocol(Context::PROTO_TLSV1_2);
        made->enableExtendedCertificateVerification(true);
        Poco::Net::SSLManager::instance().initializeClient(passphrase_handler(),
                                                           certificate_handler(), made);
        *context = made;
    }
    return *context;
}

Context::Ptr or_default(Context::Ptr context) {
    return context ? context : default_client_context();
}

// ---------------------------------------------------------------- handshakes

bool is_ip_address(const std::string& host) {
    Poco::Net::IPAddress ip;
    return Poco::Net::IPAddress::tryParse(host, ip);
}

// Runs a call that may perform a TLS handshake and turns Poco's terse
// certificate failures into messages that say why (deviation 3). host is
// the name the certificate was checked against. Call with the GIL released.
template <class F>
decltype(auto) with_certificate_errors(const std::string& host, F&& f) {
    t_refusal = Refusal{};
    try {
        return f();
    } catch (const Poco::Net::CertificateValidationException&) {
        // Poco raises this only from its host name check.
        std::string detail = "the certificate does not name this host";
        if (host.empty() || is_ip_address(host)) {
            detail +=
                "; no host name was known, so the peer's IP address was checked (to check "
                "a name, use SecureSMTPClientSession(host, port) or give the "
                "SecureStreamSocket a peer host name)";
        }
        throw Poco::Net::CertificateValidationException(
            "Unacceptable certificate from " + (host.empty() ? std::string("peer") : host), detail);
    } catch (const Poco::Net::SSLException&) {
        if (!t_refusal.refused) throw;
        Refusal refusal = t_refusal;
        t_refusal = Refusal{};
        throw Poco::Net::CertificateValidationException(
            "Unacceptable certificate from " + (host.empty() ? std::string("peer") : host),
            refusal.reason + " (certificate " + refusal.subject + ", depth " +
                std::to_string(refusal.depth) + ")");
    }
}

// The name Poco checks the certificate against for this socket.
std::string verification_host(const SecureStreamSocket& socket) {
    const std::string& name = socket.getPeerHostName();
    if (!name.empty()) return name;
    try {
        return socket.peerAddress().host().toString();
    } catch (const Poco::Exception&) {
        return {};
    }
}

// Deviations 6 and 7: finish a handshake Poco may have left half done
// (read timeout) and check the certificate once it is there. timeout bounds
// the wait when the socket's own read timeout is infinite (zero).
void complete_and_verify(SecureStreamSocket& socket, const Poco::Timespan& timeout) {
    if (socket.getLazyHandshake()) return;
    const Poco::Timespan saved = socket.getReceiveTimeout();
    const bool bound = saved.totalMicroseconds() == 0 && timeout.totalMicroseconds() > 0;
    if (bound) socket.setReceiveTimeout(timeout);
    try {
        socket.completeHandshake();
    } catch (...) {
        if (bound) socket.setReceiveTimeout(saved);
        throw;
    }
    if (bound) socket.setReceiveTimeout(saved);
    socket.verifyPeerCertificate();
}

// A socket that connects and shakes hands, built with the GIL released.
template <class Make>
std::unique_ptr<SecureStreamSocket> connected(const std::string& host, Make&& make) {
    py::gil_scoped_release nogil;
    return with_certificate_errors(host, [&] {
        std::unique_ptr<SecureStreamSocket> socket = make();
        complete_and_verify(*socket, Poco::Timespan());
        return socket;
    });
}

template <class Attach>
SecureStreamSocket attached(const std::string& host, Attach&& attach) {
    py::gil_scoped_release nogil;
    return with_certificate_errors(host, [&] {
        SecureStreamSocket socket = attach();
        complete_and_verify(socket, Poco::Timespan());
        return socket;
    });
}

// ---------------------------------------------------------------- STARTTLS

bool start_tls(SecureSMTPClientSession& session, Context::Ptr context) {
    context = or_default(context);
    return run_locked(session, [&](SessionState& state) {
        std::string response;
        const int status = session.sendCommand("STARTTLS", response);
        if (status / 100 != 2) {
            throw Poco::Net::SMTPException("The server refused STARTTLS", response, status);
        }

        // An IP address is no name to send as SNI (RFC 6066); Poco then
        // checks the certificate against the peer's address, the same one.
        Poco::Net::DialogSocket& socket = session_socket(session);
        const std::string name = is_ip_address(state.host) ? std::string() : state.host;
        const std::string checked = name.empty() ? socket.peerAddress().host().toString() : name;
        try {
            with_certificate_errors(checked, [&] {
                SecureStreamSocket secure = attach_limited(socket, name, context);
                complete_and_verify(secure, session.getTimeout());
                // Assigning also empties the dialogue's read buffer, so nothing
                // the server sent in plain text can pass for a reply under TLS.
                socket = secure;
                // The new implementation starts unlimited, as any socket does
                // (session.cpp, deviation 10).
                limit_replies(socket);
            });
        } catch (...) {
            abort_session(session, state, "the TLS handshake after STARTTLS failed");
            throw;
        }
        return true;
    });
}

// ---------------------------------------------------------------- helpers

py::object datetime_of(const Poco::DateTime& when) { return py::cast(when.timestamp()); }

std::string quoted(const std::string& text) { return py::repr(py::str(text)).cast<std::string>(); }

bool is_file_name(const py::handle& value) {
    return py::isinstance<py::str>(value) || py::hasattr(value, "__fspath__");
}

std::string file_name(const py::handle& value) {
    if (value.is_none()) return {};
    return py::module_::import("os").attr("fspath")(value).cast<std::string>();
}

void bind_key(py::module_& m) {
    using Poco::Crypto::EVPPKey;

    py::class_<EVPPKey> cls(m, "EVPPKey",
                            "A public/private key pair or public key (Poco::Crypto::EVPPKey),\n"
                            "for Context.usePrivateKey(). Only loading is bound.");

    // Poco's file and stream constructors in one: file names (str or
    // path-like) pick the first, bytes or binary files the second; None
    // stands for the key that is not given.
    cls.def(py::init([](py::object publicKey, py::object privateKey,
                        const std::string& privateKeyPassphrase) {
                const bool names = (publicKey.is_none() || is_file_name(publicKey)) &&
                                   (privateKey.is_none() || is_file_name(privateKey));
                if (names) {
                    return EVPPKey(file_name(publicKey), file_name(privateKey),
                                   privateKeyPassphrase);
                }
                if (is_file_name(publicKey) || is_file_name(privateKey)) {
                    throw py::type_error("give both keys as file names or both as data");
                }
                std::unique_ptr<PyInputStream> pub, priv;
                if (!publicKey.is_none()) pub = std::make_unique<PyInputStream>(publicKey);
                if (!privateKey.is_none()) priv = std::make_unique<PyInputStream>(privateKey);
                return EVPPKey(pub.get(), priv.get(), privateKeyPassphrase);
            }),
            py::arg("publicKey"), py::arg("privateKey"), py::arg("privateKeyPassphrase") = "",
            "Loads the private key (PEM) if given, else the public key, from files\n"
            "(publicKeyFile, privateKeyFile) or from bytes / binary files. An encrypted\n"
            "key needs privateKeyPassphrase; nothing is ever asked on the console.");
    cls.def(py::init([](const X509Certificate& certificate) { return EVPPKey(certificate); }),
            py::arg("cert"), "The public key of a certificate.");
    cls.def("type", py::overload_cast<>(&EVPPKey::type, py::const_),
            "OpenSSL's key type number (EVP_PKEY_RSA, EVP_PKEY_EC, ...).");
    cls.def("name", &EVPPKey::name, "The key type's name, e.g. 'rsaEncryption'.");
    cls.def("__eq__", [](const EVPPKey& self, const EVPPKey& other) { return self == other; });
    cls.def("__eq__", [](const EVPPKey&, py::handle) {
        return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    });
    cls.attr("__hash__") = py::none();
    cls.def("__repr__",
            [](const EVPPKey& self) { return "<EVPPKey " + quoted(self.name()) + ">"; });
}

void bind_context(py::module_& m) {
    py::class_<Context, Poco::AutoPtr<Context>> cls(
        m, "Context",
        "SSL/TLS settings shared by secure sockets (Poco::Net::Context).\n\n"
        "Without a Context, the binding uses its own safe default (see\n"
        "SSLManager.defaultClientContext()). A Context built here has exactly the\n"
        "settings given, as in Poco: note that VERIFY_RELAXED skips the host name check\n"
        "for loopback peers.");

    py::native_enum<Context::Usage>(cls, "Usage", "enum.IntEnum", "What the Context is for.")
        .value("TLS_CLIENT_USE", Context::TLS_CLIENT_USE, "A client, TLS 1.0 or higher.")
        .value("TLS_SERVER_USE", Context::TLS_SERVER_USE, "A server, TLS 1.0 or higher.")
        .value("CLIENT_USE", Context::CLIENT_USE, "Deprecated.")
        .value("SERVER_USE", Context::SERVER_USE, "Deprecated.")
        .value("TLSV1_CLIENT_USE", Context::TLSV1_CLIENT_USE, "Deprecated.")
        .value("TLSV1_SERVER_USE", Context::TLSV1_SERVER_USE, "Deprecated.")
        .value("TLSV1_1_CLIENT_USE", Context::TLSV1_1_CLIENT_USE, "Deprecated.")
        .value("TLSV1_1_SERVER_USE", Context::TLSV1_1_SERVER_USE, "Deprecated.")
        .value("TLSV1_2_CLIENT_USE", Context::TLSV1_2_CLIENT_USE, "Deprecated.")
        .value("TLSV1_2_SERVER_USE", Context::TLSV1_2_SERVER_USE, "Deprecated.")
        .value("TLSV1_3_CLIENT_USE", Context::TLSV1_3_CLIENT_USE, "Deprecated.")
        .value("TLSV1_3_SERVER_USE", Context::TLSV1_3_SERVER_USE, "Deprecated.")
        .export_values()
        .finalize();

    py::native_enum<Context::VerificationMode>(cls, "VerificationMode", "enum.IntEnum",
                                               "How the peer's certificate is verified.")
        .value("VERIFY_NONE", Context::VERIFY_NONE,
               "Client: the server certificate is not checked at all.")
        .value("VERIFY_RELAXED", Context::VERIFY_RELAXED,
               "Client: the chain is verified; Poco skips the host name check for loopback "
               "peers.")
        .value("VERIFY_STRICT", Context::VERIFY_STRICT,
               "Client: as VERIFY_RELAXED, and the host name is checked for every peer.\n"
               "Server: a client certificate is required.")
        .value("VERIFY_ONCE", Context::VERIFY_ONCE,
               "Server: request the client certificate on the first handshake only.")
        .export_values()
        .finalize();

    py::native_enum<Context::Protocols>(cls, "Protocols", "enum.IntFlag",
                                        "Protocol versions, for disableProtocols() (combine "
                                        "with |) and requireMinimumProtocol().")
        .value("PROTO_SSLV2", Context::PROTO_SSLV2)
        .value("PROTO_SSLV3", Context::PROTO_SSLV3)
        .value("PROTO_TLSV1", Context::PROTO_TLSV1)
        .value("PROTO_TLSV1_1", Context::PROTO_TLSV1_1)
        .value("PROTO_TLSV1_2", Context::PROTO_TLSV1_2)
        .value("PROTO_TLSV1_3", Context::PROTO_TLSV1_3)
        .export_values()
        .finalize();

    py::native_enum<Context::SecurityLevel>(cls, "SecurityLevel", "enum.IntEnum",
                                            "OpenSSL security level (key sizes, algorithms).")
        .value("SECURITY_LEVEL_NONE", Context::SECURITY_LEVEL_NONE)
        .value("SECURITY_LEVEL_80_BITS", Context::SECURITY_LEVEL_80_BITS)
        .value("SECURITY_LEVEL_112_BITS", Context::SECURITY_LEVEL_112_BITS)
        .value("SECURITY_LEVEL_128_BITS", Context::SECURITY_LEVEL_128_BITS)
        .value("SECURITY_LEVEL_192_BITS", Context::SECURITY_LEVEL_192_BITS)
        .value("SECURITY_LEVEL_256_BITS", Context::SECURITY_LEVEL_256_BITS)
        .export_values()
        .finalize();

    py::native_enum<Context::KeyDHGroup>(cls, "KeyDHGroup", "enum.IntEnum",
                                         "Built-in Diffie-Hellman group (servers).")
        .value("KEY_DH_GROUP_1024", Context::KEY_DH_GROUP_1024)
        .value("KEY_DH_GROUP_2048", Context::KEY_DH_GROUP_2048)
        .export_values()
        .finalize();

    py::class_<Context::Params>(cls, "Params",
                                "Parameters for Context(usage, params); fields as in Poco.")
        .def(py::init<Context::KeyDHGroup>(), py::arg("dhBits") = Context::KEY_DH_GROUP_2048)
        .def_readwrite("privateKeyFile", &Context::Params::privateKeyFile,
                       "PEM file with the private key (may also hold the certificate).")
        .def_readwrite("certificateFile", &Context::Params::certificateFile,
                       "PEM file with the certificate (chain); defaults to privateKeyFile.")
        .def_readwrite("caLocation", &Context::Params::caLocation,
                       "PEM file or hashed directory of trusted CA certificates.")
        .def_readwrite("verificationMode", &Context::Params::verificationMode)
        .def_readwrite("verificationDepth", &Context::Params::verificationDepth,
                       "Maximum certificate chain length (default 9).")
        .def_readwrite("loadDefaultCAs", &Context::Params::loadDefaultCAs,
                       "Also trust the system CA store.")
        .def_readwrite("ocspStaplingVerification", &Context::Params::ocspStaplingVerification)
        .def_readwrite("cipherList", &Context::Params::cipherList,
                       "OpenSSL cipher list for TLS 1.2 and lower.")
        .def_readwrite("cipherSuites", &Context::Params::cipherSuites,
                       "OpenSSL cipher suites for TLS 1.3 (empty: OpenSSL's default).")
        .def_readwrite("dhParamsFile", &Context::Params::dhParamsFile)
        .def_readwrite("dhGroup", &Context::Params::dhGroup)
        .def_readwrite("ecdhCurve", &Context::Params::ecdhCurve)
        .def_readwrite("securityLevel", &Context::Params::securityLevel);

    // Poco's three constructors; the one with three file names first, so
    // Context(usage, caLocation) falls through to the shorter one.
    cls.def(py::init([](Context::Usage usage, const Context::Params& params) {
                return Context::Ptr(new Context(usage, params));
            }),
            py::arg("usage"), py::arg("params"));
    cls.def(py::init([](Context::Usage usage, const std::string& privateKeyFile,
                        const std::string& certificateFile, const std::string& caLocation,
                        Context::VerificationMode verificationMode, int verificationDepth,
                        bool loadDefaultCAs, const std::string& cipherList) {
                return Context::Ptr(new Context(usage, privateKeyFile, certificateFile, caLocation,
                                                verificationMode, verificationDepth, loadDefaultCAs,
                                                cipherList));
            }),
            py::arg("usage"), py::arg("privateKeyFile"), py::arg("certificateFile"),
            py::arg("caLocation"), py::arg("verificationMode") = Context::VERIFY_RELAXED,
            py::arg("verificationDepth") = 9, py::arg("loadDefaultCAs") = false,
            py::arg("cipherList") = "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH");
    cls.def(py::init([](Context::Usage usage, const std::string& caLocation,
                        Context::VerificationMode verificationMode, int verificationDepth,
                        bool loadDefaultCAs, const std::string& cipherList) {
                return Context::Ptr(new Context(usage, caLocation, verificationMode,
                                                verificationDepth, loadDefaultCAs, cipherList));
            }),
            py::arg("usage"), py::arg("caLocation"),
            py::arg("verificationMode") = Context::VERIFY_RELAXED, py::arg("verificationDepth") = 9,
            py::arg("loadDefaultCAs") = false,
            py::arg("cipherList") = "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH");

    // The certificate parameters are Poco::Crypto::X509Certificate, which
    // Python knows only as its subclass X509Certificate.
    cls.def(
        "useCertificate",
        [](Context& self, const X509Certificate& certificate) { self.useCertificate(certificate); },
        py::arg("certificate"),
        "Sets the certificate this side presents (use with Params.privateKeyFile).");
    cls.def(
        "addChainCertificate",
        [](Context& self, const X509Certificate& certificate) {
            self.addChainCertificate(certificate);
        },
        py::arg("certificate"), "Adds an intermediate certificate sent along with our own.");
    cls.def(
        "addCertificateAuthority",
        [](Context& self, const X509Certificate& certificate) {
            self.addCertificateAuthority(certificate);
        },
        py::arg("certificate"), "Trusts certificate as a CA.");
    cls.def("usePrivateKey",
            py::overload_cast<const Poco::Crypto::EVPPKey&>(&Context::usePrivateKey),
            py::arg("pkey"), "Sets the private key matching useCertificate()'s certificate.");
    cls.def("usage", &Context::usage);
    cls.def("isForServerUse", &Context::isForServerUse);
    cls.def("verificationMode", &Context::verificationMode);
    cls.def("enableSessionCache", py::overload_cast<bool>(&Context::enableSessionCache),
            py::arg("flag") = true);
    cls.def("enableSessionCache",
            py::overload_cast<bool, const std::string&>(&Context::enableSessionCache),
            py::arg("flag"), py::arg("sessionIdContext"));
    cls.def("sessionCacheEnabled", &Context::sessionCacheEnabled);
    cls.def("setSessionCacheSize", &Context::setSessionCacheSize, py::arg("size"));
    cls.def("getSessionCacheSize", &Context::getSessionCacheSize);
    cls.def("setSessionTimeout", &Context::setSessionTimeout, py::arg("seconds"));
    cls.def("getSessionTimeout", &Context::getSessionTimeout);
    cls.def("flushSessionCache", &Context::flushSessionCache);
    cls.def("enableExtendedCertificateVerification",
            &Context::enableExtendedCertificateVerification, py::arg("flag") = true,
            "Turns the host name check after the handshake on or off.");
    cls.def("extendedCertificateVerificationEnabled",
            &Context::extendedCertificateVerificationEnabled);
    cls.def("disableStatelessSessionResumption", &Context::disableStatelessSessionResumption);
    cls.def("disableProtocols", &Context::disableProtocols, py::arg("protocols"),
            "Disables the given protocols (Protocols values combined with |).");
    cls.def("requireMinimumProtocol", &Context::requireMinimumProtocol, py::arg("protocol"));
    cls.def("preferServerCiphers", &Context::preferServerCiphers);
    cls.def("ocspStaplingResponseVerificationEnabled",
            &Context::ocspStaplingResponseVerificationEnabled);
    cls.def("setSecurityLevel", &Context::setSecurityLevel, py::arg("level"));
    cls.def("ignoreUnexpectedEof", &Context::ignoreUnexpectedEof, py::arg("flag") = true);
    cls.def("setQuietShutdown", &Context::setQuietShutdown, py::arg("flag") = true);
    cls.def("__repr__", [](const Context& self) {
        std::string usage = py::str(py::cast(self.usage()).attr("name")).cast<std::string>();
        std::string mode =
            py::str(py::cast(self.verificationMode()).attr("name")).cast<std::string>();
        return "<Context " + usage + " " + mode +
               (self.extendedCertificateVerificationEnabled() ? " host-check" : "") + ">";
    });
}

void bind_certificate(py::module_& m) {
    using Crypto = Poco::Crypto::X509Certificate;

    py::class_<X509Certificate> cls(
        m, "X509Certificate",
        "An X.509 certificate (Poco::Net::X509Certificate, with the members of its base\n"
        "Poco::Crypto::X509Certificate). Dates are timezone-aware datetimes (UTC).");

    py::native_enum<Crypto::NID>(cls, "NID", "enum.IntEnum",
                                 "Name fields for subjectName(nid) and issuerName(nid).")
        .value("NID_COMMON_NAME", Crypto::NID_COMMON_NAME)
        .value("NID_COUNTRY", Crypto::NID_COUNTRY)
        .value("NID_LOCALITY_NAME", Crypto::NID_LOCALITY_NAME)
        .value("NID_STATE_OR_PROVINCE", Crypto::NID_STATE_OR_PROVINCE)
        .value("NID_ORGANIZATION_NAME", Crypto::NID_ORGANIZATION_NAME)
        .value("NID_ORGANIZATION_UNIT_NAME", Crypto::NID_ORGANIZATION_UNIT_NAME)
        .value("NID_PKCS9_EMAIL_ADDRESS", Crypto::NID_PKCS9_EMAIL_ADDRESS)
        .value("NID_SERIAL_NUMBER", Crypto::NID_SERIAL_NUMBER)
        .export_values()
        .finalize();

    // One constructor for Poco's two: a str (or path-like) is a file name,
    // anything else (bytes, a binary file) is read as a PEM stream.
    cls.def(py::init([](py::object source) {
                py::object fspath = py::module_::import("os").attr("fspath");
                if (py::isinstance<py::str>(source) || py::hasattr(source, "__fspath__")) {
                    return X509Certificate(fspath(source).cast<std::string>());
                }
                PyInputStream in(std::move(source));
                return X509Certificate(in);
            }),
            py::arg("source"),
            "Loads a PEM certificate from a file (path given as str or path-like) or\n"
            "reads it from bytes or a readable binary file.");

    cls.def("version", &X509Certificate::version);
    cls.def("serialNumber", &X509Certificate::serialNumber,
            "The serial number as upper-case hexadecimal digits.");
    cls.def("issuerName", py::overload_cast<>(&X509Certificate::issuerName, py::const_),
            "The issuer's distinguished name, one line ('/C=../CN=..').");
    cls.def("issuerName", py::overload_cast<Crypto::NID>(&X509Certificate::issuerName, py::const_),
            py::arg("nid"));
    cls.def("subjectName", py::overload_cast<>(&X509Certificate::subjectName, py::const_),
            "The subject's distinguished name, one line ('/C=../CN=..').");
    cls.def("subjectName",
            py::overload_cast<Crypto::NID>(&X509Certificate::subjectName, py::const_),
            py::arg("nid"));
    cls.def("commonName", &X509Certificate::commonName);
    cls.def(
        "extractNames",
        [](const X509Certificate& self) {
            std::string commonName;
            std::set<std::string> domainNames;
            self.extractNames(commonName, domainNames);
            return py::make_tuple(commonName, domainNames);
        },
        "Returns (commonName, domainNames): the subject CN and the DNS names of the\n"
        "subjectAltName extension (Poco fills out-parameters).");
    cls.def("validFrom", [](const X509Certificate& self) { return datetime_of(self.validFrom()); });
    cls.def("expiresOn", [](const X509Certificate& self) { return datetime_of(self.expiresOn()); });
    cls.def(
        "fingerprint",
        [](const X509Certificate& self, const std::string& algorithm) {
            Poco::DigestEngine::Digest digest = self.fingerprint(algorithm);
            return py::bytes(reinterpret_cast<const char*>(digest.data()), digest.size());
        },
        py::arg("algorithm") = "SHA1", "The digest of the DER encoding, as bytes.");
    cls.def("save", py::overload_cast<const std::string&>(&X509Certificate::save, py::const_),
            py::arg("path"), "Writes the certificate as PEM to a file.");
    cls.def(
        "save",
        [](const X509Certificate& self, py::object stream) {
            PyOutputStream out(std::move(stream));
            self.save(out);
            out.finish();
        },
        py::arg("stream"), "Writes the certificate as PEM to a writable binary file.");
    cls.def(
        "issuedBy",
        [](const X509Certificate& self, const X509Certificate& issuerCertificate) {
            return self.issuedBy(issuerCertificate);
        },
        py::arg("issuerCertificate"), "True if issuerCertificate's key signed this certificate.");
    cls.def(
        "equals",
        [](const X509Certificate& self, const X509Certificate& otherCertificate) {
            return self.equals(otherCertificate);
        },
        py::arg("otherCertificate"));
    cls.def("signatureAlgorithm", &X509Certificate::signatureAlgorithm);
    cls.def(
        "print",
        [](const X509Certificate& self, py::object out) {
            PyOutputStream stream(std::move(out));
            self.print(stream);
            stream.finish();
        },
        py::arg("out"), "Writes a readable summary to a writable binary file.");
    cls.def(
        "verify",
        [](const X509Certificate& self, const std::string& hostName) {
            py::gil_scoped_release nogil;  // may resolve names
            return self.verify(hostName);
        },
        py::arg("hostName"),
        "True if the certificate names hostName (subjectAltName or CN, wildcards as in\n"
        "RFC 6125; an IP address is matched against the IP entries). Poco's static\n"
        "verify(cert, hostName) is this method called on cert.");
    cls.def_static(
        "readPEM",
        [](const std::string& pemFileName) {
            std::vector<X509Certificate> certificates;
            for (const Crypto& certificate : Crypto::readPEM(pemFileName)) {
                certificates.emplace_back(certificate);
            }
            return certificates;
        },
        py::arg("pemFileName"), "Reads every certificate of a PEM file.");
    cls.def_static(
        "writePEM",
        [](const std::string& pemFileName, const std::vector<X509Certificate>& list) {
            Crypto::writePEM(pemFileName, Crypto::List(list.begin(), list.end()));
        },
        py::arg("pemFileName"), py::arg("list"));

    cls.def("__eq__", [](const X509Certificate& self, const X509Certificate& other) {
        return self.equals(other);
    });
    cls.def("__eq__", [](const X509Certificate&, py::handle) {
        return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    });
    cls.attr("__hash__") = py::none();
    cls.def("__repr__", [](const X509Certificate& self) {
        std::string expires =
            py::str(datetime_of(self.expiresOn()).attr("isoformat")()).cast<std::string>();
        return "<X509Certificate subject=" + quoted(self.subjectName()) +
               " issuer=" + quoted(self.issuerName()) + " expires=" + expires + ">";
    });
}

// Poco's SecureStreamSocket constructors, on the implementation that bounds a
// reply once a session adopts the socket (reply_limit.h): the same steps
// (Context, peer host name, connect) through the public interface.
std::unique_ptr<SecureStreamSocket> secure_socket(Context::Ptr context) {
    return std::make_unique<SecureStreamSocket>(limited_secure_socket(context));
}

std::unique_ptr<SecureStreamSocket> secure_socket(Context::Ptr context,
                                                  const std::string& hostName) {
    std::unique_ptr<SecureStreamSocket> socket = secure_socket(context);
    socket->setPeerHostName(hostName);
    return socket;
}

std::unique_ptr<SecureStreamSocket> connect_to(std::unique_ptr<SecureStreamSocket> socket,
                                               const SocketAddress& address) {
    socket->connect(address);
    return socket;
}

void bind_socket(py::module_& m) {
    py::class_<SecureStreamSocket, StreamSocket> cls(
        m, "SecureStreamSocket",
        "A TLS client socket (Poco::Net::SecureStreamSocket).\n\n"
        "Constructors given an address connect and complete the handshake; those given\n"
        "a hostName send it as SNI and check the certificate against it. Without a\n"
        "Context the binding's safe default is used (system CAs, host name checked,\n"
        "TLS 1.2 or newer). An unacceptable certificate raises\n"
        "CertificateValidationException saying why.\n\n"
        "SMTPClientSession(SecureStreamSocket(...)) speaks SMTP over implicit TLS\n"
        "(port 465).");

    cls.attr("ERR_SSL_WOULD_BLOCK") = static_cast<int>(SecureStreamSocket::ERR_SSL_WOULD_BLOCK);
    cls.attr("ERR_SSL_WANT_READ") = static_cast<int>(SecureStreamSocket::ERR_SSL_WANT_READ);
    cls.attr("ERR_SSL_WANT_WRITE") = static_cast<int>(SecureStreamSocket::ERR_SSL_WANT_WRITE);

    // Unconnected sockets, for connect() later.
    cls.def(py::init([] { return secure_socket(default_client_context()); }),
            "An unconnected socket with the default Context.");
    cls.def(py::init([](Context::Ptr pContext) { return secure_socket(or_default(pContext)); }),
            py::arg("pContext"), "An unconnected socket with the given Context.");
    cls.def(py::init([](const std::string& hostName) {
                return secure_socket(default_client_context(), hostName);
            }),
            py::arg("hostName"),
            "An unconnected socket that will use hostName for SNI and the certificate check.");
    cls.def(py::init([](const std::string& hostName, Context::Ptr pContext) {
                return secure_socket(or_default(pContext), hostName);
            }),
            py::arg("hostName"), py::arg("pContext"));

    // Connecting sockets.
    cls.def(py::init([](const SocketAddress& address) {
                return connected(address.host().toString(), [&] {
                    return connect_to(secure_socket(default_client_context()), address);
                });
            }),
            py::arg("address"),
            "Connects to address and shakes hands; the certificate must name the IP\n"
            "address (no host name is known).");
    cls.def(py::init([](const SocketAddress& address, Context::Ptr pContext) {
                return connected(address.host().toString(), [&] {
                    return connect_to(secure_socket(or_default(pContext)), address);
                });
            }),
            py::arg("address"), py::arg("pContext"));
    cls.def(py::init([](const SocketAddress& address, const std::string& hostName) {
                return connected(hostName, [&] {
                    return connect_to(secure_socket(default_client_context(), hostName), address);
                });
            }),
            py::arg("address"), py::arg("hostName"),
            "Connects to address, sends hostName as SNI and checks the certificate "
            "against it.");
    cls.def(py::init([](const SocketAddress& address, const std::string& hostName,
                        Context::Ptr pContext) {
                return connected(hostName, [&] {
                    return connect_to(secure_socket(or_default(pContext), hostName), address);
                });
            }),
            py::arg("address"), py::arg("hostName"), py::arg("pContext"));

    cls.def(py::init([](const StreamSocket& socket) {
                return std::make_unique<SecureStreamSocket>(socket);
            }),
            py::arg("socket"),
            "Another handle on a socket that already is a SecureStreamSocket (Poco raises\n"
            "InvalidArgumentException for a plain one; use attach() to add TLS).");

    // attach(): TLS over an already connected plain socket.
    cls.def_static(
        "attach",
        [](const StreamSocket& streamSocket, Context::Ptr pContext) {
            std::string host = streamSocket.peerAddress().host().toString();
            return attached(host, [&] {
                // Poco's attach() without a name leaves the peer host name
                // empty, as this does.
                return attach_limited(streamSocket, std::string(), or_default(pContext));
            });
        },
        py::arg("streamSocket"), py::arg("pContext") = Context::Ptr(),
        "Starts TLS on a connected plain socket and returns the secure socket; the\n"
        "certificate must name the peer's IP address.");
    cls.def_static(
        "attach",
        [](const StreamSocket& streamSocket, const std::string& peerHostName,
           Context::Ptr pContext) {
            return attached(peerHostName, [&] {
                return attach_limited(streamSocket, peerHostName, or_default(pContext));
            });
        },
        py::arg("streamSocket"), py::arg("peerHostName"), py::arg("pContext") = Context::Ptr(),
        "Starts TLS on a connected plain socket, with peerHostName for SNI and the\n"
        "certificate check.");

    cls.def(
        "connect",
        [](SecureStreamSocket& self, const SocketAddress& address) {
            py::gil_scoped_release nogil;
            with_certificate_errors(
                self.getPeerHostName().empty() ? address.host().toString() : self.getPeerHostName(),
                [&] {
                    self.connect(address);
                    complete_and_verify(self, Poco::Timespan());
                });
        },
        py::arg("address"), "Connects and, unless the handshake is lazy, shakes hands.");
    cls.def(
        "connect",
        [](SecureStreamSocket& self, const SocketAddress& address, const Poco::Timespan& timeout) {
            py::gil_scoped_release nogil;
            with_certificate_errors(
                self.getPeerHostName().empty() ? address.host().toString() : self.getPeerHostName(),
                [&] {
                    self.connect(address, timeout);
                    complete_and_verify(self, timeout);
                });
        },
        py::arg("address"), py::arg("timeout"),
        "Connects and shakes hands, each bounded by timeout (datetime.timedelta).");

    cls.def("havePeerCertificate", &SecureStreamSocket::havePeerCertificate);
    cls.def("peerCertificate", &SecureStreamSocket::peerCertificate,
            "The server's certificate; raises SSLException if there is none.");
    cls.def("setPeerHostName", &SecureStreamSocket::setPeerHostName, py::arg("hostName"),
            "Sets the name used for SNI and the certificate check (before connecting).");
    cls.def("getPeerHostName", &SecureStreamSocket::getPeerHostName);
    cls.def("context", &SecureStreamSocket::context);
    cls.def("setLazyHandshake", &SecureStreamSocket::setLazyHandshake, py::arg("flag") = true,
            "Defers the handshake to the first send or receive.");
    cls.def("getLazyHandshake", &SecureStreamSocket::getLazyHandshake);
    cls.def(
        "verifyPeerCertificate",
        [](SecureStreamSocket& self) {
            py::gil_scoped_release nogil;
            with_certificate_errors(verification_host(self), [&] { self.verifyPeerCertificate(); });
        },
        "Checks the certificate against the peer host name (or the peer's IP address),\n"
        "as the Context's verification mode asks; raises CertificateValidationException.");
    cls.def(
        "verifyPeerCertificate",
        [](SecureStreamSocket& self, const std::string& hostName) {
            py::gil_scoped_release nogil;
            with_certificate_errors(hostName, [&] { self.verifyPeerCertificate(hostName); });
        },
        py::arg("hostName"));
    cls.def(
        "completeHandshake",
        [](SecureStreamSocket& self) {
            py::gil_scoped_release nogil;
            return with_certificate_errors(verification_host(self),
                                           [&] { return self.completeHandshake(); });
        },
        "Completes the handshake (of a lazy or non-blocking socket); returns Poco's "
        "status.");
    cls.def("sessionWasReused", &SecureStreamSocket::sessionWasReused);
    cls.def("abort", &SecureStreamSocket::abort,
            "Aborts the TLS connection by closing the socket without a TLS shutdown.");
    cls.def("__repr__", [](const SecureStreamSocket& self) {
        std::string peer;
        try {
            peer = self.peerAddress().toString();
        } catch (const Poco::Exception&) {
            peer = "unconnected";
        }
        std::string name = self.getPeerHostName();
        return "<SecureStreamSocket " + (name.empty() ? peer : name + " " + peer) + ">";
    });
}

void bind_session(py::module_& m) {
    py::class_<SecureSMTPClientSession, Poco::Net::SMTPClientSession,
               SessionHolder<SecureSMTPClientSession>>
        cls(m, "SecureSMTPClientSession",
            "An SMTP session that can switch to TLS with STARTTLS\n"
            "(Poco::Net::SecureSMTPClientSession).\n\n"
            "Typical use: login(), startTLS(), login(method, user, password),\n"
            "sendMessage(...). For implicit TLS (port 465) use\n"
            "SMTPClientSession(SecureStreamSocket(...)) instead.");

    cls.def(
        py::init([](const StreamSocket& socket) {
            std::string host;
            if (auto* secure = dynamic_cast<Poco::Net::SecureStreamSocketImpl*>(socket.impl())) {
                host = secure->getPeerHostName();
            }
            return make_session<SecureSMTPClientSession>(socket, host);
        }),
        py::arg("socket"),
        "Creates the session on a connected socket. startTLS() checks the certificate\n"
        "against the socket's peer host name if it is a SecureStreamSocket with one,\n"
        "else against the peer's IP address.");
    cls.def(py::init([](const std::string& host, Poco::UInt16 port) {
                StreamSocket socket;
                {
                    py::gil_scoped_release nogil;
                    socket = connect_socket(host, port);
                }
                return make_session<SecureSMTPClientSession>(socket, host);
            }),
            py::arg("host"),
            py::arg("port") = static_cast<int>(Poco::Net::SMTPClientSession::SMTP_PORT),
            "Connects to host:port (bounded by DEFAULT_TIMEOUT); startTLS() sends host as\n"
            "SNI and checks the certificate against it.");

    cls.def(
        "startTLS", [](SecureSMTPClientSession& self) { return start_tls(self, Context::Ptr()); },
        "Sends STARTTLS and shakes hands with the binding's default Context (system CAs,\n"
        "host name checked, TLS 1.2 or newer). Call after login(), then login() again.\n\n"
        "Returns True. Raises SMTPException with the server's reply when the server\n"
        "refuses STARTTLS, and CertificateValidationException (or another SSLException)\n"
        "when the handshake fails, after which the session is closed.");
    cls.def("startTLS", &start_tls, py::arg("pContext"),
            "Like startTLS(), with the given Context.");
}

// ---------------------------------------------------------------- SSLManager

void bind_manager(py::module_& m) {
    using Poco::Net::SSLManager;
    py::class_<SSLManager, std::unique_ptr<SSLManager, py::nodelete>>(
        m, "SSLManager", "Poco's SSL singleton, reduced to what a client needs from Python.")
        .def_static("instance", &SSLManager::instance, py::return_value_policy::reference)
        .def(
            "defaultClientContext", [](SSLManager&) { return default_client_context(); },
            "The Context used when none is given: TLS_CLIENT_USE, system CA store,\n"
            "VERIFY_STRICT, host name check on, TLS 1.2 minimum. Made on first use.");
}

}  // namespace

void init_tls(py::module_& m) {
    Poco::Net::initializeSSL();
    passphrase_handler() = new NoPassphraseHandler();
    certificate_handler() = new RecordingRejectHandler();
    Poco::Net::SSLManager::instance().initializeClient(passphrase_handler(), certificate_handler(),
                                                       Context::Ptr());

    bind_certificate(m);
    bind_key(m);
    bind_context(m);
    bind_manager(m);
    // The bases are registered by socket.cpp and session.cpp; until they
    // are, the subclasses are left out rather than failing the import.
    if (py::detail::get_type_info(typeid(StreamSocket))) bind_socket(m);
    if (py::detail::get_type_info(typeid(Poco::Net::SMTPClientSession))) bind_session(m);
}

}  // namespace pocosmtp
