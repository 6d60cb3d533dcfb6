// C++ streams over Python objects, and the GIL rules for every call that
// passes one to Poco. The rules, written once:
//
//  1. A binding function builds its adapter while it holds the GIL, then
//     releases the GIL around the Poco call (py::gil_scoped_release), so the
//     adapter outlives the release scope and is destroyed with the GIL held.
//  2. An adapter re-acquires the GIL only to call into Python, once per chunk
//     of kChunk bytes, never per byte or per line.
//  3. A Python error inside a callback is thrown as py::error_already_set.
//     The streams set badbit in their exception mask, so std::istream and
//     std::ostream rethrow it instead of turning it into a silent EOF; it
//     then unwinds through Poco (which catches only Poco::Exception) and
//     pybind11 raises the original Python exception. Output is never
//     silently truncated.
//  4. bytes-like input is read in place through the buffer protocol: no copy.
#pragma once

#include <pybind11/pybind11.h>

#include <istream>
#include <memory>
#include <ostream>
#include <streambuf>
#include <vector>

namespace pocosmtp {

namespace py = pybind11;

inline constexpr std::size_t kChunk = 64 * 1024;

// Reads a Python binary file object (readinto() where it has one, else
// read()) or, in place, any bytes-like object.
class PyReadBuf : public std::streambuf {
public:
    explicit PyReadBuf(py::object source);
    ~PyReadBuf() override;

    // Moves a seekable file back over what was read ahead but not consumed,
    // so the file is left where Poco stopped (as a C++ istream would be).
    // Call with the GIL held; does nothing for bytes or unseekable files.
    void giveBack();

protected:
    int_type underflow() override;

private:
    py::object source_;
    py::object readinto_;
    py::object read_;
    Py_buffer view_{};
    bool in_place_ = false;
    std::vector<char> buffer_;
    py::object window_;  // memoryview over buffer_, made once
};

// Writes to a Python binary file object in chunks; call finish() (with the
// GIL held or not) after Poco returns so the tail reaches Python.
class PyWriteBuf : public std::streambuf {
public:
    explicit PyWriteBuf(py::object sink);

    void finish();

protected:
    int_type overflow(int_type ch) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;
    int sync() override;

private:
    void drain();

    py::object write_;
    std::vector<char> buffer_;
};

// An std::istream over a Python readable or bytes-like object.
class PyInputStream : public std::istream {
public:
    explicit PyInputStream(py::object source);
    void giveBack() { buf_.giveBack(); }

private:
    PyReadBuf buf_;
};

// An std::ostream over a Python writable; finish() flushes the tail.
class PyOutputStream : public std::ostream {
public:
    explicit PyOutputStream(py::object sink);
    void finish();

private:
    PyWriteBuf buf_;
};

// A Python-visible, read-only binary stream over a C++ std::istream that is
// valid only during a callback (PartHandler::handlePart). After invalidate()
// every method raises ValueError, as a closed file does.
class CppInputStream {
public:
    explicit CppInputStream(std::istream& in) : in_(&in) {}

    py::bytes read(py::ssize_t size = -1);
    py::bytes readline(py::ssize_t size = -1);
    py::ssize_t readinto(py::buffer target);
    void invalidate() { in_ = nullptr; }
    bool closed() const { return in_ == nullptr; }

private:
    std::istream& stream();

    std::istream* in_;
};

// Registers CppInputStream as pocosmtp.InputStream.
void init_streams(py::module_& m);

}  // namespace pocosmtp
