// Poco's exception classes as Python exceptions, and the one translator that
// raises them.
//
// Every class declared in Foundation's Poco/Exception.h, Net's
// Poco/Net/NetException.h, NetSSL's Poco/Net/SSLException.h and Crypto's
// Poco/Crypto/CryptoException.h becomes a Python class of the same name with
// the same base, rooted at PocoException (Poco::Exception; the builtin name
// Exception is left alone). Where Python has a builtin for the same situation,
// the class derives from it too, so `except TimeoutError` or
// `except ConnectionRefusedError` catch what Poco throws. The table in
// init_errors() is the single place that says which.
//
// Instances carry Poco's accessors as methods of the same names: message(),
// code(), name(), className(), displayText(), nested(). str(e) is
// displayText(), whatever str() the builtin base would give (KeyError quotes
// its argument). The nested exception is translated too and is also the
// Python __cause__, so tracebacks show it.
//
// Translation picks the most specific bound class: the table is walked from
// the last row to the first, and every class comes after its base, so the
// first dynamic_cast that succeeds is the nearest. A Poco exception type not
// in the table (Poco::Util's, a user's own) lands on its nearest bound base
// and keeps its own name() and className().
//
// pybind11 already maps std::bad_alloc, std::out_of_range and the other
// std::exception types; only Poco::Exception is handled here.
#include "init.h"

#include <Poco/Crypto/CryptoException.h>
#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Util/OptionException.h>

#include <algorithm>
#include <memory>
#include <string>
#include <typeindex>
#include <vector>

namespace pocosmtp {

namespace py = pybind11;

namespace {

// Builds a C++ exception of one bound type, with Poco's constructor overloads:
// (msg, code), (msg, arg, code) giving "msg: arg", (msg, nested, code).
using Factory = std::unique_ptr<Poco::Exception> (*)(const std::string& msg, const std::string* arg,
                                                     const Poco::Exception* nested, int code);

struct Row {
    std::type_index cpp;
    PyObject* type;  // a strong reference, never released, like pybind11's own exception types
    bool (*matches)(const Poco::Exception&);
    Factory make;
};

std::vector<Row>& rows() {
    static auto* table = new std::vector<Row>();  // outlives the interpreter on purpose
    return *table;
}

PyObject* root() { return rows().front().type; }

template <class T>
std::unique_ptr<Poco::Exception> make(const std::string& msg, const std::string* arg,
                                      const Poco::Exception* nested, int code) {
    if (nested) return std::make_unique<T>(msg, *nested, code);
    if (arg) return std::make_unique<T>(msg, *arg, code);
    return std::make_unique<T>(msg, code);
}

// Poco's className() is typeid(*this).name(): mangled on GCC and Clang.
std::string demangled(const char* name) {
    std::string text = name;
    py::detail::clean_type_id(text);
    return text;
}

// Messages carry server replies, which need not be UTF-8: undecodable bytes
// show as \xNN rather than making the translation itself fail.
py::str decode(const std::string& text) {
    PyObject* obj =
        PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "backslashreplace");
    if (!obj) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(obj);
}

const Row& nearest(const Poco::Exception& exc) {
    const auto& table = rows();
    for (auto row = table.rbegin(); row != table.rend(); ++row) {
        if (row->matches(exc)) return *row;
    }
    return table.front();  // unreachable: the root row matches every Poco::Exception
}

const Row* row_of_python_type(py::handle type) {
    for (py::handle base : type.attr("__mro__")) {
        for (const Row& row : rows()) {
            if (row.type == base.ptr()) return &row;
        }
    }
    return nullptr;
}

py::object to_python(const Poco::Exception& exc) {
    const Row& row = nearest(exc);
    py::handle type = row.type;
    py::str msg = decode(exc.message());
    py::object result =
        exc.nested() ? type(msg, to_python(*exc.nested()), exc.code()) : type(msg, exc.code());
    if (std::type_index(typeid(exc)) != row.cpp) {
        result.attr("_poco_name") = decode(exc.name());
        result.attr("_poco_class_name") = demangled(exc.className());
    }
    return result;
}

// The inverse, for the test hook: a Python PocoException (and its nested
// chain) rebuilt as the C++ exception of its nearest bound class.
std::unique_ptr<Poco::Exception> to_cpp(py::handle exc) {
    const Row* row = row_of_python_type(py::type::of(exc));
    if (!row) throw py::type_error("nested must be a PocoException");
    auto msg = exc.attr("_message").cast<std::string>();
    auto code = exc.attr("_code").cast<int>();
    py::object nested = exc.attr("_nested");
    std::unique_ptr<Poco::Exception> inner = nested.is_none() ? nullptr : to_cpp(nested);
    return row->make(msg, nullptr, inner.get(), code);
}

// ------------------------------------------------------------ the classes

// Attaches f to a Python-made class as a method; a second call with the same
// name adds an overload. pybind11 treats a function named __init__ as the
// constructor of a pybind11 class, which these are not, so that one is named
// "PocoException.__init__" instead (the name shows in its errors).
template <class F, class... Extra>
void def_method(py::handle cls, const char* name, F&& f, const Extra&... extra) {
    const bool init = std::string(name) == "__init__";
    py::dict own = cls.attr("__dict__");  // overload our own, never an inherited builtin
    py::object sibling = own.contains(name) ? py::object(own[name]) : py::none();
    py::cpp_function method(std::forward<F>(f), py::name(init ? "PocoException.__init__" : name),
                            py::is_method(cls), py::sibling(sibling), extra...);
    cls.attr(name) = method;
}

void set_state(py::handle self, py::str msg, py::object nested, int code) {
    self.attr("_message") = msg;
    self.attr("_code") = code;
    self.attr("_nested") = nested;
    // BaseException.__init__ is not called: OSError's would read (msg, code)
    // as (errno, strerror). args is what repr() shows and what pickle calls
    // the class with; the instance __dict__ restores the rest.
    if (code != 0) {
        self.attr("args") = py::make_tuple(msg, code);
    } else {
        self.attr("args") = py::len(msg) > 0 ? py::tuple(py::make_tuple(msg)) : py::tuple();
    }
    if (!nested.is_none()) self.attr("__cause__") = nested;
}

py::str display_text(py::handle self) {
    py::str name = self.attr("_poco_name");
    py::str msg = self.attr("_message");
    if (py::len(msg) == 0) return name;
    return py::str("{}: {}").format(name, msg);
}

void define_root_methods(py::handle cls) {
    def_method(
        cls, "__init__",
        [](py::handle self, py::str msg, int code) { set_state(self, msg, py::none(), code); },
        py::arg("msg") = "", py::arg("code") = 0);
    def_method(
        cls, "__init__",
        [](py::handle self, py::str msg, py::str arg, int code) {
            // Poco::Exception(msg, arg, code): the message becomes "msg: arg".
            if (py::len(arg) > 0) msg = py::str("{}: {}").format(msg, arg);
            set_state(self, msg, py::none(), code);
        },
        py::arg("msg"), py::arg("arg"), py::arg("code") = 0);
    def_method(
        cls, "__init__",
        [](py::handle self, py::str msg, py::object nested, int code) {
            if (!py::isinstance(nested, root())) {
                throw py::type_error(
                    "nested must be a PocoException, not " +
                    py::str(py::type::of(nested).attr("__name__")).cast<std::string>());
            }
            set_state(self, msg, nested, code);
        },
        py::arg("msg"), py::arg("nested"), py::arg("code") = 0);

    def_method(
        cls, "message", [](py::handle self) -> py::str { return self.attr("_message"); },
        "The message text, without the name.");
    def_method(
        cls, "code", [](py::handle self) -> int { return self.attr("_code").cast<int>(); },
        "Poco's exception code: an errno for socket errors, the reply status for "
        "SMTPException, otherwise usually 0.");
    def_method(
        cls, "name", [](py::handle self) -> py::str { return self.attr("_poco_name"); },
        "Poco's name() for the class, e.g. 'Connection refused'.");
    def_method(
        cls, "className", [](py::handle self) -> py::str { return self.attr("_poco_class_name"); },
        "The C++ class name, e.g. 'Poco::Net::SMTPException'.");
    def_method(cls, "displayText", &display_text, "name(), then ': ' and message() if any.");
    def_method(
        cls, "nested", [](py::handle self) -> py::object { return self.attr("_nested"); },
        "The nested exception (a PocoException), or None.");
    def_method(cls, "__str__", &display_text);
}

// SMTPClientSession throws SMTPException(text, reply, status): the message is
// "<text>: <reply>" and code() is the status, with which the reply begins
// ("535 5.7.8 ..." or, for a multi-line reply, "250-first\n250 last"). The
// reply therefore starts at the first ": <status>" followed by a space, a
// hyphen, a line end or nothing. Poco's texts hold no such sequence; a
// recipient address that did would make the reply start too early.
py::object smtp_reply(py::handle self) {
    const int code = self.attr("_code").cast<int>();
    if (code < 100 || code > 999) return py::none();
    py::bytes raw = self.attr("_message").attr("encode")("utf-8", "surrogatepass");
    const auto text = raw.cast<std::string>();
    const std::string marker = ": " + std::to_string(code);
    for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
        const auto end = at + marker.size();
        if (end == text.size() || text[end] == ' ' || text[end] == '-' || text[end] == '\n') {
            return py::bytes(text.substr(at + 2)).attr("decode")("utf-8", "surrogatepass");
        }
    }
    return py::none();
}

class Table {
public:
    explicit Table(py::module_& m) : m_(m) {}

    // Binds T as a subclass of the class bound for Base and, if given, of a
    // Python builtin exception.
    template <class T, class Base>
    void add(PyObject* builtin = nullptr) {
        const std::string cpp = py::type_id<T>();
        py::list bases;
        bases.append(python_type<Base>());
        if (builtin) bases.append(builtin);
        bind<T>(cpp.substr(cpp.rfind(':') + 1), cpp, py::tuple(bases));
    }

    void add_root() {
        py::object cls = bind<Poco::Exception>(
            "PocoException", "Poco::Exception", py::make_tuple(py::handle(PyExc_Exception)),
            "Poco::Exception, the root of every exception Poco throws.\n\n"
            "PocoException(msg='', code=0), PocoException(msg, arg, code=0) for the "
            "message 'msg: arg', PocoException(msg, nested, code=0).");
        // Class-level defaults keep the accessors working on an instance
        // whose __init__ never ran (made by __new__ alone).
        cls.attr("_message") = py::str();
        cls.attr("_code") = 0;
        cls.attr("_nested") = py::none();
        define_root_methods(cls);
    }

    template <class T>
    py::handle python_type() const {
        for (const Row& row : rows()) {
            if (row.cpp == std::type_index(typeid(T))) return row.type;
        }
        py::pybind11_fail("errors.cpp: " + py::type_id<T>() + " is bound before its base");
    }

private:
    template <class T>
    py::object bind(const std::string& name, const std::string& cpp, py::tuple bases,
                    std::string doc = {}) {
        const std::string poco_name = T(std::string()).name();
        if (doc.empty()) doc = cpp + " (\"" + poco_name + "\")";
        const std::string qualified = "pocosmtp." + name;
        PyObject* type =
            PyErr_NewExceptionWithDoc(qualified.c_str(), doc.c_str(), bases.ptr(), nullptr);
        if (!type) throw py::error_already_set();
        py::object cls = py::reinterpret_borrow<py::object>(type);
        cls.attr("_poco_name") = poco_name;
        cls.attr("_poco_class_name") = cpp;
        m_.add_object(name.c_str(), cls);
        rows().push_back(
            Row{typeid(T), type,
                [](const Poco::Exception& e) { return dynamic_cast<const T*>(&e) != nullptr; },
                &make<T>});
        return cls;
    }

    py::module_& m_;
};

// ------------------------------------------------------------ test hooks

// _raise_poco(class_name, msg, code=0, *, arg=None, nested=None) throws the
// C++ exception bound as class_name, so the tests prove every table row
// through the real translator.
void raise_poco(const std::string& class_name, const std::string& msg, int code, py::object arg,
                py::object nested) {
    const auto& table = rows();
    const auto row = std::find_if(table.begin(), table.end(), [&](const Row& candidate) {
        return py::handle(candidate.type).attr("__name__").cast<std::string>() == class_name;
    });
    if (row == table.end()) {
        throw py::value_error("no Poco exception class is bound as " + class_name);
    }
    if (!arg.is_none() && !nested.is_none()) {
        throw py::value_error("Poco has no constructor taking both arg and nested");
    }
    std::unique_ptr<Poco::Exception> inner = nested.is_none() ? nullptr : to_cpp(nested);
    const std::string text = arg.is_none() ? std::string() : arg.cast<std::string>();
    row->make(msg, arg.is_none() ? nullptr : &text, inner.get(), code)->rethrow();
}

}  // namespace

void init_errors(py::module_& m) {
    Table t(m);
    t.add_root();

    // The table: C++ class, its C++ base, the builtin it also derives from.
    // A builtin is named only where it means the same situation. Poco's
    // RuntimeException is not Python's RuntimeError (a catch-all that would
    // swallow every I/O error), LogicException has no counterpart, and
    // SSLException stays a plain OSError as Python's ssl.SSLError is.
    // Poco/Exception.h
    t.add<Poco::LogicException, Poco::Exception>();
    t.add<Poco::AssertionViolationException, Poco::LogicException>(PyExc_AssertionError);
    t.add<Poco::NullPointerException, Poco::LogicException>();
    t.add<Poco::NullValueException, Poco::LogicException>();
    t.add<Poco::BugcheckException, Poco::LogicException>();
    t.add<Poco::InvalidArgumentException, Poco::LogicException>(PyExc_ValueError);
    t.add<Poco::NotImplementedException, Poco::LogicException>(PyExc_NotImplementedError);
    t.add<Poco::RangeException, Poco::LogicException>(PyExc_ValueError);
    t.add<Poco::IllegalStateException, Poco::LogicException>();
    t.add<Poco::InvalidAccessException, Poco::LogicException>();
    t.add<Poco::SignalException, Poco::LogicException>();
    t.add<Poco::UnhandledException, Poco::LogicException>();
    t.add<Poco::RuntimeException, Poco::Exception>();
    t.add<Poco::NotFoundException, Poco::RuntimeException>(PyExc_KeyError);
    t.add<Poco::ExistsException, Poco::RuntimeException>();
    t.add<Poco::TimeoutException, Poco::RuntimeException>(PyExc_TimeoutError);
    t.add<Poco::SystemException, Poco::RuntimeException>(PyExc_OSError);
    t.add<Poco::RegularExpressionException, Poco::RuntimeException>();
    t.add<Poco::LibraryLoadException, Poco::RuntimeException>();
    t.add<Poco::LibraryAlreadyLoadedException, Poco::RuntimeException>();
    t.add<Poco::NoThreadAvailableException, Poco::RuntimeException>();
    t.add<Poco::PropertyNotSupportedException, Poco::RuntimeException>();
    t.add<Poco::PoolOverflowException, Poco::RuntimeException>();
    t.add<Poco::NoPermissionException, Poco::RuntimeException>(PyExc_PermissionError);
    t.add<Poco::OutOfMemoryException, Poco::RuntimeException>(PyExc_MemoryError);
    t.add<Poco::ResourceLimitException, Poco::RuntimeException>();
    t.add<Poco::DataException, Poco::RuntimeException>(PyExc_ValueError);
    t.add<Poco::DataFormatException, Poco::DataException>();
    t.add<Poco::SyntaxException, Poco::DataException>();
    t.add<Poco::CircularReferenceException, Poco::DataException>();
    t.add<Poco::PathSyntaxException, Poco::SyntaxException>();
    t.add<Poco::IOException, Poco::RuntimeException>(PyExc_OSError);
    t.add<Poco::ProtocolException, Poco::IOException>();
    t.add<Poco::FileException, Poco::IOException>();
    t.add<Poco::FileExistsException, Poco::FileException>(PyExc_FileExistsError);
    t.add<Poco::FileNotFoundException, Poco::FileException>(PyExc_FileNotFoundError);
    t.add<Poco::PathNotFoundException, Poco::FileException>(PyExc_FileNotFoundError);
    t.add<Poco::FileReadOnlyException, Poco::FileException>();
    t.add<Poco::FileAccessDeniedException, Poco::FileException>(PyExc_PermissionError);
    t.add<Poco::CreateFileException, Poco::FileException>();
    t.add<Poco::OpenFileException, Poco::FileException>();
    t.add<Poco::WriteFileException, Poco::FileException>();
    t.add<Poco::ReadFileException, Poco::FileException>();
    t.add<Poco::ExecuteFileException, Poco::FileException>();
    t.add<Poco::FileNotReadyException, Poco::FileException>();
    t.add<Poco::DirectoryNotEmptyException, Poco::FileException>();
    t.add<Poco::UnknownURISchemeException, Poco::RuntimeException>();
    t.add<Poco::TooManyURIRedirectsException, Poco::RuntimeException>();
    t.add<Poco::URISyntaxException, Poco::SyntaxException>();
    t.add<Poco::ApplicationException, Poco::Exception>();
    t.add<Poco::BadCastException, Poco::RuntimeException>(PyExc_TypeError);

    // Poco/Net/NetException.h
    using namespace Poco::Net;
    t.add<NetException, Poco::IOException>();
    t.add<InvalidAddressException, NetException>(PyExc_ValueError);
    t.add<InvalidSocketException, NetException>();
    t.add<ServiceNotFoundException, NetException>();
    t.add<ConnectionAbortedException, NetException>(PyExc_ConnectionAbortedError);
    t.add<ConnectionResetException, NetException>(PyExc_ConnectionResetError);
    t.add<ConnectionRefusedException, NetException>(PyExc_ConnectionRefusedError);
    t.add<DNSException, NetException>();
    t.add<HostNotFoundException, DNSException>();
    t.add<NoAddressFoundException, DNSException>();
    t.add<InterfaceNotFoundException, NetException>();
    t.add<NoMessageException, NetException>();
    t.add<MessageException, NetException>();
    t.add<MultipartException, MessageException>();
    t.add<HTTPException, NetException>();
    t.add<NotAuthenticatedException, HTTPException>();
    t.add<UnsupportedRedirectException, HTTPException>();
    t.add<FTPException, NetException>();
    t.add<SMTPException, NetException>();
    t.add<POP3Exception, NetException>();
    t.add<ICMPException, NetException>();
    t.add<ICMPFragmentationException, NetException>();
    t.add<NTPException, NetException>();
    t.add<HTMLFormException, NetException>();
    t.add<WebSocketException, NetException>();
    t.add<UnsupportedFamilyException, NetException>();
    t.add<AddressFamilyMismatchException, NetException>();

    // Poco/Net/SSLException.h
    t.add<SSLException, NetException>();
    t.add<SSLContextException, SSLException>();
    t.add<InvalidCertificateException, SSLException>();
    t.add<CertificateValidationException, SSLException>();
    t.add<SSLConnectionUnexpectedlyClosedException, SSLException>();

    // Poco/Crypto/CryptoException.h
    t.add<Poco::Crypto::CryptoException, Poco::Exception>();
    t.add<Poco::Crypto::OpenSSLException, Poco::Crypto::CryptoException>();

    def_method(t.python_type<SMTPException>(), "reply", &smtp_reply,
               "The server's reply as Poco received it (status code first; lines joined "
               "by '\\n'), taken from message(); None when the exception carries no reply "
               "status in code().");

    py::register_local_exception_translator([](std::exception_ptr p) {
        if (!p) return;
        try {
            std::rethrow_exception(p);
        } catch (const Poco::Exception& exc) {
            py::object err = to_python(exc);
            PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.ptr())), err.ptr());
        }
    });

    m.def("_raise_poco", &raise_poco, py::arg("class_name"), py::arg("msg"), py::arg("code") = 0,
          py::kw_only(), py::arg("arg") = py::none(), py::arg("nested") = py::none(),
          "Test hook: throw the C++ class bound as class_name.");
    m.def(
        "_raise_unbound",
        [](const std::string& msg) { throw Poco::Util::MissingArgumentException(msg); },
        py::arg("msg"),
        "Test hook: throw Poco::Util::MissingArgumentException, a DataException that has "
        "no class of its own here.");
}

}  // namespace pocosmtp
