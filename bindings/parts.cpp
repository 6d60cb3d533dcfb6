// The PartSource family (sources of MIME parts), part stores and their
// factories, and PartHandler (the callback that receives parts on reading).
//
// Ownership: Poco's addPart/addContent/addAttachment delete the PartSource they
// are given, so every class here uses py::smart_holder and the add functions
// take a std::unique_ptr (see take_part_source). A handed-over Python object
// is disowned; touching it afterwards raises ValueError instead of reaching
// freed memory. A Python subclass of PartSource stays alive as long as the C++
// object that Poco owns (py::trampoline_self_life_support).
#include "parts.h"

#include <Poco/Exception.h>
#include <Poco/Net/FilePartSource.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NullPartHandler.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/Net/PartStore.h>
#include <Poco/Net/StringPartSource.h>

#include <istream>
#include <memory>
#include <optional>
#include <streambuf>
#include <string>
#include <typeinfo>
#include <unordered_map>

#include "init.h"
#include "pystreams.h"

namespace pocosmtp {

namespace py = pybind11;
using Poco::Net::FilePartSource;
using Poco::Net::FilePartStore;
using Poco::Net::FilePartStoreFactory;
using Poco::Net::MessageHeader;
using Poco::Net::NullPartHandler;
using Poco::Net::PartSource;
using Poco::Net::PartStore;
using Poco::Net::PartStoreFactory;
using Poco::Net::StringPartSource;

namespace {

std::string type_name(py::handle obj) {
    return py::str(py::type::of(obj).attr("__name__")).cast<std::string>();
}

// "<PartHandler>", or "<MyHandler (PartHandler)>" for a Python subclass of
// the bound class Bound, which tells what the object is underneath.
template <class Bound>
std::string class_repr(py::handle self) {
    auto qualname = [](py::handle cls) {
        return py::str(cls.attr("__qualname__")).cast<std::string>();
    };
    py::type cls = py::type::of(self);
    py::type bound = py::type::of<Bound>();
    if (cls.is(bound)) return "<" + qualname(cls) + ">";
    return "<" + qualname(cls) + " (" + qualname(bound) + ")>";
}

// ------------------------------------------------------------ Python-backed sources

// Owner of each Python-subclass source that C++ owns: a MailMessage, or a
// MultipartSource still owned by Python. Pointers only, resolved through
// pybind11's instance registry when needed; entries go when the source dies.
struct Owner {
    const void* object;
    const std::type_info* type;
};

std::unordered_map<const PartSource*, Owner>& owners() {
    static std::unordered_map<const PartSource*, Owner> table;
    return table;
}

// Trampoline for Python subclasses of PartSource. The Python stream() returns
// bytes or a readable binary file object, read in chunks when the message is
// written; the GIL is taken only to call into Python (Poco calls stream()
// while writing, with the GIL released).
class PyPartSource : public PartSource, public py::trampoline_self_life_support {
public:
    explicit PyPartSource(const std::string& mediaType = "application/octet-stream")
        : PartSource(mediaType) {}

    ~PyPartSource() override {
        py::gil_scoped_acquire gil;
        in_.reset();
        owners().erase(this);
    }

    std::istream& stream() override {
        py::gil_scoped_acquire gil;
        py::function override = py::get_override(static_cast<const PartSource*>(this), "stream");
        if (!override) {
            throw py::type_error(
                "PartSource subclasses must define stream(), returning bytes or "
                "a readable binary file object");
        }
        py::object source = override();
        in_.reset();  // the previous stream, if stream() is called again
        in_ = std::make_unique<PyInputStream>(std::move(source));
        return *in_;
    }

    const std::string& filename() const override {
        py::gil_scoped_acquire gil;
        py::function override = py::get_override(static_cast<const PartSource*>(this), "filename");
        if (!override) return PartSource::filename();
        filename_ = override().cast<std::string>();
        return filename_;
    }

    std::streamsize getContentLength() const override {
        PYBIND11_OVERRIDE(std::streamsize, PartSource, getContentLength, );
    }

private:
    std::unique_ptr<PyInputStream> in_;
    mutable std::string filename_;  // Poco returns a reference; it must outlive the call
};

// A PartSource over a Python binary file object, read 64 KiB at a time while
// the message is written, so an attachment of any size is never held in
// memory. A seekable file is rewound to where it stood at construction each
// time Poco asks for the stream, so writing the message twice repeats it.
class FileObjectPartSource : public PartSource {
public:
    FileObjectPartSource(py::object fileobj, const std::string& mediaType,
                         const std::string& filename)
        : PartSource(mediaType), file_(std::move(fileobj)), filename_(filename) {
        if ((!py::hasattr(file_, "readinto") && !py::hasattr(file_, "read")) ||
            py::isinstance(file_, py::module_::import("io").attr("TextIOBase"))) {
            throw py::type_error("FileObjectPartSource needs a readable binary file object, got " +
                                 type_name(file_));
        }
        if (py::hasattr(file_, "seekable") && file_.attr("seekable")().cast<bool>()) {
            start_ = file_.attr("tell")();
        }
    }

    ~FileObjectPartSource() override {
        py::gil_scoped_acquire gil;
        in_.reset();
        start_ = py::object();
        file_ = py::object();
    }

    std::istream& stream() override {
        py::gil_scoped_acquire gil;
        in_.reset();
        if (start_) file_.attr("seek")(start_);
        in_ = std::make_unique<PyInputStream>(file_);
        return *in_;
    }

    const std::string& filename() const override { return filename_; }

    py::object fileobj() const { return file_; }

private:
    py::object file_;
    py::object start_;
    std::string filename_;
    std::unique_ptr<PyInputStream> in_;
};

// ------------------------------------------------------------ factories

class PyPartStoreFactory : public PartStoreFactory, public py::trampoline_self_life_support {
public:
    // Poco deletes what this returns, so the Python result is taken over
    // exactly as addPart takes a source.
    PartSource* createPartStore(const std::string& content, const std::string& mediaType,
                                const std::string& filename) override {
        py::gil_scoped_acquire gil;
        py::function override =
            py::get_override(static_cast<const PartStoreFactory*>(this), "createPartStore");
        if (!override) {
            throw py::type_error("PartStoreFactory subclasses must define createPartStore()");
        }
        py::object result = override(py::bytes(content), mediaType, filename);
        return take_part_source(result).release();
    }
};

// ------------------------------------------------------------ part handlers

// The part stream as Python sees it. Once the part's stream has reported its
// end, asking again must not reach Poco's multipart reader, which would hand
// out the next part's lines; this buffer latches the end so that
// handlePart can tell Poco (eofbit) not to drain the stream again.
//
// A Poco error while decoding the part (a base64 part cut off without its
// closing boundary ends in a 0xFF octet that Poco's decoder rejects) ends
// the part here, as it does for a C++ handler, whose std::istream catches it
// and sets badbit; Python errors from the message's source still propagate.
class EofLatchBuf : public std::streambuf {
public:
    explicit EofLatchBuf(std::streambuf* inner) : inner_(inner) {}

    bool at_end() const { return at_end_; }
    bool broken() const { return broken_; }

protected:
    int_type underflow() override {
        return at_end_ ? eof() : guarded([&] { return inner_->sgetc(); });
    }
    int_type uflow() override {
        return at_end_ ? eof() : guarded([&] { return inner_->sbumpc(); });
    }

    std::streamsize xsgetn(char* s, std::streamsize n) override {
        std::streamsize got = 0;
        while (got < n && !at_end_) {
            const int_type c = uflow();
            if (traits_type::eq_int_type(c, eof())) break;
            s[got++] = traits_type::to_char_type(c);
        }
        return got;
    }

private:
    static int_type eof() { return traits_type::eof(); }

    template <typename Read>
    int_type guarded(Read&& read) {
        int_type c;
        try {
            c = read();
        } catch (const Poco::Exception&) {
            broken_ = true;
            c = eof();
        }
        if (traits_type::eq_int_type(c, eof())) at_end_ = true;
        return c;
    }

    std::streambuf* inner_;
    bool at_end_ = false;
    bool broken_ = false;
};

// Forwards handlePart to the Python subclass.
class PyPartHandler : public BindablePartHandler, public py::trampoline_self_life_support {
public:
    void handlePart(const MessageHeader& header, std::istream& stream) override {
        py::gil_scoped_acquire gil;
        py::function override =
            py::get_override(static_cast<const BindablePartHandler*>(this), "handlePart");
        if (!override) throw py::type_error("PartHandler subclasses must define handlePart()");

        EofLatchBuf latch(stream.rdbuf());
        std::istream part(&latch);
        part.exceptions(std::ios::badbit);  // a Python error below must not read as EOF

        auto view = std::make_unique<CppInputStream>(part);
        CppInputStream* raw = view.get();
        py::object pystream = py::cast(std::move(view));
        // `part` dies when this returns, and with it the view's access, even
        // if the handler kept a reference to the stream.
        struct Finish {
            CppInputStream* view;
            EofLatchBuf& latch;
            std::istream& stream;
            ~Finish() {
                view->invalidate();
                if (latch.broken()) stream.setstate(std::ios::badbit);
                if (latch.at_end()) stream.setstate(std::ios::eofbit);
            }
        } finish{raw, latch, stream};
        override(MessageHeader(header), pystream);
    }
};

// Poco's NullPartHandler, under the bindable base.
class BoundNullPartHandler : public BindablePartHandler {
public:
    void handlePart(const MessageHeader& header, std::istream& stream) override {
        impl_.handlePart(header, stream);
    }

private:
    NullPartHandler impl_;
};

}  // namespace

namespace {

// The live headers() object of source, if Python holds one.
py::object headers_view(PartSource& source) {
    static const auto* tinfo = py::detail::get_type_info(typeid(MessageHeader));
    return py::reinterpret_steal<py::object>(
        py::detail::find_registered_python_instance(&source.headers(), tinfo));
}

}  // namespace

std::unique_ptr<PartSource> take_part_source(py::handle source, py::handle new_owner) {
    if (!py::isinstance<PartSource>(source)) {
        throw py::type_error("expected a PartSource, got " + type_name(source));
    }
    std::unique_ptr<PartSource> owned;
    py::object view;
    try {
        view = headers_view(source.cast<PartSource&>());
        if (!view || new_owner) owned = source.cast<std::unique_ptr<PartSource>>();
    } catch (const std::exception& e) {
        throw py::value_error(
            "this " + type_name(source) +
            " cannot be handed over: a PartSource belongs to the first MailMessage or "
            "MultipartSource it is added to (and parts() returns views of sources the message "
            "owns); create a new source for each part (" +
            e.what() + ")");
    }
    if (view && new_owner) {
        py::detail::keep_alive_impl(view, new_owner);
    } else if (view) {
        // The object holds on to the Python object only, which would no
        // longer keep the C++ part alive.
        throw py::value_error("this " + type_name(source) +
                              " still has a headers() object in use; set the part's headers, "
                              "then drop that reference before handing the source over");
    }
    return owned;
}

void adopted(PartSource* source, const void* owner, const std::type_info& ownerType) {
    auto& table = owners();
    if (dynamic_cast<PyPartSource*>(source)) table[source] = Owner{owner, &ownerType};
    // Python sources nested in a MultipartSource now belong to its new owner.
    for (auto& [nested, its_owner] : table) {
        if (its_owner.object == static_cast<const void*>(source)) {
            its_owner = Owner{owner, &ownerType};
        }
    }
}

void init_parts(py::module_& m) {
    // ------------------------------------------------------------ PartSource

    py::classh<PartSource, PyPartSource>(
        m, "PartSource",
        "Abstract source of a MIME part: media type, extra header fields, filename, data.\n\n"
        "Subclass it in Python by defining stream() (returning bytes or a readable binary "
        "file object) and optionally filename() and getContentLength(). A source given to "
        "addPart/addContent/addAttachment belongs to that message from then on.")
        .def(py::init<const std::string&>(), py::arg("mediaType") = "application/octet-stream")
        .def("mediaType", &PartSource::mediaType)
        .def("filename", &PartSource::filename)
        .def(
            "headers",
            [](py::handle self) {
                auto& source = self.cast<PartSource&>();
                py::object view = py::cast(&source.headers(), py::return_value_policy::reference);
                py::detail::keep_alive_impl(view, self);
                auto owner = owners().find(&source);
                if (owner != owners().end()) {
                    const auto* tinfo = py::detail::get_type_info(*owner->second.type);
                    py::object holder = py::reinterpret_steal<py::object>(
                        py::detail::find_registered_python_instance(
                            const_cast<void*>(owner->second.object), tinfo));
                    if (holder) py::detail::keep_alive_impl(view, holder);
                }
                return view;
            },
            "The part's extra header fields, live: changes reach the written part. The "
            "object keeps the part (and the message owning it) alive.")
        .def("getContentLength", &PartSource::getContentLength,
             "Length in bytes, or UNKNOWN_CONTENT_LENGTH.")
        .def("__repr__",
             [](py::handle self) {
                 const auto& src = self.cast<const PartSource&>();
                 return "<" + type_name(self) + " " + src.mediaType() + " " +
                        py::repr(py::str(src.filename())).cast<std::string>() + ">";
             })
        .def_readonly_static("UNKNOWN_CONTENT_LENGTH", &PartSource::UNKNOWN_CONTENT_LENGTH);

    py::classh<StringPartSource, PartSource>(
        m, "StringPartSource",
        "A part whose data is held in memory. data may be str (sent as UTF-8) or bytes "
        "(sent unchanged).")
        .def(py::init<const std::string&, const std::string&, const std::string&>(), py::arg("str"),
             py::arg("mediaType") = "text/plain", py::arg("filename") = "");

    py::classh<FilePartSource, PartSource>(
        m, "FilePartSource",
        "A part read from a file when the message is written. filename() defaults to the "
        "last component of path. Note Poco's order in the three-argument form: "
        "(path, filename, mediaType). Raises OpenFileException if the file cannot be opened.")
        .def(py::init<const std::string&>(), py::arg("path"))
        .def(py::init<const std::string&, const std::string&>(), py::arg("path"),
             py::arg("mediaType"))
        .def(py::init<const std::string&, const std::string&, const std::string&>(),
             py::arg("path"), py::arg("filename"), py::arg("mediaType"));

    py::classh<FileObjectPartSource, PartSource>(
        m, "FileObjectPartSource",
        "A part read from a Python binary file object in 64 KiB chunks while the message is "
        "written, so the data is never held in memory whole. A seekable file is rewound to "
        "its position at construction each time the message is written. (pocosmtp's own "
        "class; Poco has no equivalent.)")
        .def(py::init<py::object, const std::string&, const std::string&>(), py::arg("fileobj"),
             py::arg("mediaType") = "application/octet-stream", py::arg("filename") = "")
        .def("fileobj", &FileObjectPartSource::fileobj);

    // ------------------------------------------------------------ part stores

    py::classh<PartStore, PartSource>(m, "PartStore",
                                      "Base class of stores that keep parts of a read message.");

    py::classh<FilePartStore, PartStore>(
        m, "FilePartStore",
        "A part kept in a temporary file (deleted with the store). filename() is the part's "
        "name for the user; path() is the file on disk.")
        .def(py::init<const std::string&, const std::string&, const std::string&>(),
             py::arg("content"), py::arg("mediaType"), py::arg("filename") = "")
        .def("path", &FilePartStore::path);

    py::classh<PartStoreFactory, PyPartStoreFactory>(
        m, "PartStoreFactory",
        "Makes the PartSource that keeps each part of a message being read. Subclass it in "
        "Python by defining createPartStore(content: bytes, mediaType, filename) returning a "
        "new PartSource (the message takes it over).")
        .def(py::init<>())
        .def(
            "createPartStore",
            [](PartStoreFactory& self, const std::string& content, const std::string& mediaType,
               const std::string& filename) {
                return std::unique_ptr<PartSource>(
                    self.createPartStore(content, mediaType, filename));
            },
            py::arg("content"), py::arg("mediaType"), py::arg("filename") = "")
        .def("__repr__", &class_repr<PartStoreFactory>);

    py::classh<FilePartStoreFactory, PartStoreFactory>(
        m, "FilePartStoreFactory", "Keeps the parts of a message being read in temporary files.")
        .def(py::init<>())
        .def("__repr__", &class_repr<FilePartStoreFactory>);

    // ------------------------------------------------------------ part handlers

    py::classh<BindablePartHandler, PyPartHandler>(
        m, "PartHandler",
        "Receives the parts of a multipart message being read. Subclass it and define "
        "handlePart(header: MessageHeader, stream: InputStream); the stream holds the decoded "
        "part data and is valid only during the call.")
        .def(py::init<>())
        .def("__repr__", &class_repr<BindablePartHandler>);

    py::classh<BoundNullPartHandler, BindablePartHandler>(m, "NullPartHandler",
                                                          "Discards every part.")
        .def(py::init<>())
        .def(
            "handlePart",
            [](BoundNullPartHandler& self, const MessageHeader& header, py::object stream) {
                PyInputStream in(std::move(stream));
                py::gil_scoped_release nogil;
                self.handlePart(header, in);
            },
            py::arg("header"), py::arg("stream"))
        .def("__repr__", &class_repr<BoundNullPartHandler>);
}

}  // namespace pocosmtp
