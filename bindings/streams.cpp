// Stream adapters between Python file objects and C++ iostreams; the GIL
// rules they follow are written once in pystreams.h.
#include "pystreams.h"

#include <cstring>
#include <string>

namespace pocosmtp {

namespace {

[[noreturn]] void raise_not_binary(const char* what, py::handle got) {
    throw py::type_error(std::string(what) + " returned " +
                         py::str(py::type::of(got).attr("__name__")).cast<std::string>() +
                         ", not bytes: open the file in binary mode");
}

// Writes all of [data, data+size) through a Python write(), which may take
// less than it is given (raw files do).
void write_all(const py::object& write, const char* data, std::size_t size) {
    while (size > 0) {
        py::object done = write(py::bytes(data, size));
        if (done.is_none()) {
            throw py::value_error("write() returned None: non-blocking sinks are not supported");
        }
        auto n = done.cast<py::ssize_t>();
        if (n <= 0 || static_cast<std::size_t>(n) > size) {
            throw py::value_error("write() reported " + std::to_string(n) + " bytes written of " +
                                  std::to_string(size));
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

}  // namespace

// ---------------------------------------------------------------- reading

PyReadBuf::PyReadBuf(py::object source) : source_(std::move(source)) {
    if (PyObject_CheckBuffer(source_.ptr())) {
        if (PyObject_GetBuffer(source_.ptr(), &view_, PyBUF_SIMPLE) != 0) {
            throw py::error_already_set();
        }
        in_place_ = true;
        char* begin = static_cast<char*>(view_.buf);
        setg(begin, begin, begin + view_.len);
        return;
    }
    if (py::hasattr(source_, "readinto")) {
        readinto_ = source_.attr("readinto");
    } else if (py::hasattr(source_, "read")) {
        read_ = source_.attr("read");
    } else {
        throw py::type_error("expected bytes or a readable binary file object, got " +
                             py::str(py::type::of(source_).attr("__name__")).cast<std::string>());
    }
    buffer_.resize(kChunk);
    if (readinto_) {
        window_ = py::memoryview::from_memory(buffer_.data(),
                                              static_cast<py::ssize_t>(buffer_.size()), false);
    }
    setg(buffer_.data(), buffer_.data(), buffer_.data());
}

PyReadBuf::~PyReadBuf() {
    if (in_place_) PyBuffer_Release(&view_);
}

void PyReadBuf::giveBack() {
    const auto unread = static_cast<py::ssize_t>(egptr() - gptr());
    if (in_place_ || unread == 0) return;
    if (!py::hasattr(source_, "seekable") || !source_.attr("seekable")().cast<bool>()) return;
    source_.attr("seek")(-unread, 1);  // SEEK_CUR
    setg(eback(), egptr(), egptr());
}

PyReadBuf::int_type PyReadBuf::underflow() {
    if (in_place_) return traits_type::eof();

    py::gil_scoped_acquire gil;
    std::size_t got = 0;
    if (readinto_) {
        py::object n = readinto_(window_);
        if (n.is_none()) {
            throw py::value_error(
                "readinto() returned None: non-blocking sources are not supported");
        }
        got = n.cast<std::size_t>();
        if (got > buffer_.size()) throw py::value_error("readinto() reported more bytes than fit");
    } else {
        py::object data = read_(kChunk);
        if (!PyBytes_Check(data.ptr())) raise_not_binary("read()", data);
        got = static_cast<std::size_t>(PyBytes_GET_SIZE(data.ptr()));
        if (got > buffer_.size()) buffer_.resize(got);
        std::memcpy(buffer_.data(), PyBytes_AS_STRING(data.ptr()), got);
    }
    if (got == 0) return traits_type::eof();
    setg(buffer_.data(), buffer_.data(), buffer_.data() + got);
    return traits_type::to_int_type(buffer_[0]);
}

PyInputStream::PyInputStream(py::object source) : std::istream(nullptr), buf_(std::move(source)) {
    rdbuf(&buf_);
    exceptions(std::ios::badbit);
}

// ---------------------------------------------------------------- writing

PyWriteBuf::PyWriteBuf(py::object sink) {
    if (!py::hasattr(sink, "write")) {
        throw py::type_error("expected a writable binary file object, got " +
                             py::str(py::type::of(sink).attr("__name__")).cast<std::string>());
    }
    write_ = sink.attr("write");
    buffer_.resize(kChunk);
    setp(buffer_.data(), buffer_.data() + buffer_.size());
}

void PyWriteBuf::drain() {
    const auto pending = static_cast<std::size_t>(pptr() - pbase());
    if (pending == 0) return;
    {
        py::gil_scoped_acquire gil;
        write_all(write_, pbase(), pending);
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
}

PyWriteBuf::int_type PyWriteBuf::overflow(int_type ch) {
    drain();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
        *pptr() = traits_type::to_char_type(ch);
        pbump(1);
    }
    return traits_type::not_eof(ch);
}

std::streamsize PyWriteBuf::xsputn(const char* s, std::streamsize n) {
    if (static_cast<std::size_t>(n) < buffer_.size()) return std::streambuf::xsputn(s, n);
    // Large blocks go straight through rather than being cut into chunks.
    drain();
    py::gil_scoped_acquire gil;
    write_all(write_, s, static_cast<std::size_t>(n));
    return n;
}

int PyWriteBuf::sync() {
    drain();
    return 0;
}

void PyWriteBuf::finish() { drain(); }

PyOutputStream::PyOutputStream(py::object sink) : std::ostream(nullptr), buf_(std::move(sink)) {
    rdbuf(&buf_);
    exceptions(std::ios::badbit);
}

void PyOutputStream::finish() {
    flush();
    buf_.finish();
}

// ------------------------------------------------- C++ stream seen from Python

std::istream& CppInputStream::stream() {
    if (!in_) throw py::value_error("I/O operation on a stream whose callback has returned");
    return *in_;
}

py::bytes CppInputStream::read(py::ssize_t size) {
    std::istream& in = stream();
    std::string out;
    {
        py::gil_scoped_release nogil;
        if (size < 0) {
            char chunk[8192];
            while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
                out.append(chunk, static_cast<std::size_t>(in.gcount()));
            }
        } else {
            out.resize(static_cast<std::size_t>(size));
            in.read(out.data(), size);
            out.resize(static_cast<std::size_t>(in.gcount()));
        }
    }
    return py::bytes(out);
}

py::bytes CppInputStream::readline(py::ssize_t size) {
    std::istream& in = stream();
    std::string out;
    {
        py::gil_scoped_release nogil;
        std::streambuf* buf = in.rdbuf();
        while (size < 0 || static_cast<py::ssize_t>(out.size()) < size) {
            auto c = buf->sbumpc();
            if (std::char_traits<char>::eq_int_type(c, std::char_traits<char>::eof())) break;
            out.push_back(std::char_traits<char>::to_char_type(c));
            if (out.back() == '\n') break;
        }
    }
    return py::bytes(out);
}

py::ssize_t CppInputStream::readinto(py::buffer target) {
    std::istream& in = stream();
    py::buffer_info info = target.request(true);
    const auto size = info.size * info.itemsize;
    {
        py::gil_scoped_release nogil;
        in.read(static_cast<char*>(info.ptr), size);
    }
    return static_cast<py::ssize_t>(in.gcount());
}

void init_streams(py::module_& m) {
    py::class_<CppInputStream>(m, "InputStream",
                               "A read-only binary stream over a C++ std::istream, handed to "
                               "Python callbacks. Valid only until the callback returns.")
        .def("read", &CppInputStream::read, py::arg("size") = -1)
        .def("readline", &CppInputStream::readline, py::arg("size") = -1)
        .def("readinto", &CppInputStream::readinto, py::arg("buffer"))
        .def("readable", [](CppInputStream&) { return true; })
        .def_property_readonly("closed", &CppInputStream::closed)
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", [](CppInputStream& s) {
            py::bytes line = s.readline();
            if (PyBytes_GET_SIZE(line.ptr()) == 0) throw py::stop_iteration();
            return line;
        });
}

}  // namespace pocosmtp
