// Poco::Net::NameValueCollection, MessageHeader and MediaType.
//
// Strings cross as UTF-8; wherever Poco takes raw octets, bytes are accepted
// too and reach Poco unchanged. Values Poco returns are decoded as UTF-8, so a
// header read from the wire with raw 8-bit octets raises UnicodeDecodeError
// when it is fetched (RFC 5322 headers are ASCII; use decodeWord for RFC 2047).
#include <Poco/Exception.h>
#include <Poco/Net/MediaType.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "guards.h"
#include "init.h"
#include "message.h"
#include "pystreams.h"

namespace pocosmtp {

namespace py = pybind11;
using Poco::Net::MediaType;
using Poco::Net::MessageHeader;
using Poco::Net::NameValueCollection;
using NVC = NameValueCollection;

namespace {

py::list items(const NameValueCollection& nvc) {
    check_can_look(&nvc);
    py::list out;
    for (const auto& [name, value] : nvc) out.append(py::make_tuple(name, value));
    return out;
}

// set() and add() refuse CR and LF in values and invalid field names
// (guards.h): a value must never become a second header line.
auto guarded(void (NameValueCollection::*fn)(const std::string&, const std::string&)) {
    return [fn](NameValueCollection& self, const std::string& name, const std::string& value) {
        check_can_change(&self);
        require_header_field(name, value);
        (self.*fn)(name, value);
    };
}

// MediaType's parts end up in a Content-Type line.
auto single_line(void (MediaType::*fn)(const std::string&), const char* what) {
    return [fn, what](MediaType& self, const std::string& value) {
        require_single_line(value, what);
        (self.*fn)(value);
    };
}

std::string type_name(const py::handle& self) {
    return py::str(py::type::of(self).attr("__name__")).cast<std::string>();
}

}  // namespace

void init_header(py::module_& m) {
    // ------------------------------------------------------------ NameValueCollection

    py::classh<NameValueCollection>(
        m, "NameValueCollection",
        "Name-value pairs with case-insensitive names, kept in insertion order; a name may "
        "occur more than once.\n\n"
        "Also a mapping over the first value of each name: ``c[name]``, ``c[name] = value`` "
        "(same as set), ``del c[name]``, ``name in c``, ``len(c)``. Iteration yields every "
        "(name, value) pair in Poco's order.")
        .def(py::init<>())
        .def(py::init([](const NameValueCollection& nvc) {
                 check_can_look(&nvc);
                 return NameValueCollection(nvc);
             }),
             py::arg("nvc"), "A copy of another one.")
        .def("set", guarded(&NameValueCollection::set), py::arg("name"), py::arg("value"),
             "Sets the value of the first pair with this name, or adds one. Unlike Poco, a "
             "value with CR or LF, or a name that is not a header field name, raises "
             "InvalidArgumentException (a ValueError).")
        .def("add", guarded(&NameValueCollection::add), py::arg("name"), py::arg("value"),
             "Adds a pair, even if the name exists already; checked as set() is.")
        .def(
            "get",
            [](const NameValueCollection& self, const std::string& name) -> std::string {
                check_can_look(&self);
                return self.get(name);
            },
            py::arg("name"), "The first value for name; raises NotFoundException (a KeyError).")
        .def(
            "get",
            [](const NameValueCollection& self, const std::string& name,
               const std::string& defaultValue) -> std::string {
                check_can_look(&self);
                return self.get(name, defaultValue);
            },
            py::arg("name"), py::arg("defaultValue"),
            "The first value for name, or defaultValue when there is none.")
        .def("has", looks<NVC>(&NameValueCollection::has), py::arg("name"))
        .def(
            "erase",
            [](NameValueCollection& self, const std::string& name) {
                check_can_change(&self);
                self.erase(name);
            },
            py::arg("name"), "Removes every pair with this name.")
        .def(
            "secureErase",
            [](NameValueCollection& self, const std::string& name) {
                check_can_change(&self);
                self.secureErase(name);
            },
            py::arg("name"), "As erase(), overwriting the values with zeroes first.")
        .def("size", looks<NVC>(&NameValueCollection::size))
        .def("empty", looks<NVC>(&NameValueCollection::empty))
        .def("clear", changes<NVC>(&NameValueCollection::clear))
        .def("secureClear", changes<NVC>(&NameValueCollection::secureClear))
        .def(
            "swap",
            [](NameValueCollection& self, NameValueCollection& nvc) {
                check_can_change(&self);
                check_can_change(&nvc);
                self.swap(nvc);
            },
            py::arg("nvc"))
        .def(
            "__getitem__",
            [](const NameValueCollection& self, const std::string& name) -> std::string {
                check_can_look(&self);
                auto it = self.find(name);
                // Poco's operator[] throws NotFoundException, which is a KeyError.
                if (it == self.end()) throw Poco::NotFoundException(name);
                return it->second;
            },
            py::arg("name"))
        .def("__setitem__", guarded(&NameValueCollection::set), py::arg("name"), py::arg("value"))
        .def(
            "__delitem__",
            [](NameValueCollection& self, const std::string& name) {
                check_can_change(&self);
                if (!self.has(name)) throw Poco::NotFoundException(name);
                self.erase(name);
            },
            py::arg("name"))
        .def("__contains__", looks<NVC>(&NameValueCollection::has), py::arg("name"))
        .def("__len__", looks<NVC>(&NameValueCollection::size))
        .def("__bool__",
             [](const NameValueCollection& self) {
                 check_can_look(&self);
                 return !self.empty();
             })
        // A snapshot, so changing the collection while iterating cannot
        // invalidate a C++ iterator.
        .def("__iter__", [](const NameValueCollection& self) { return py::iter(items(self)); })
        .def("__repr__", [](py::handle self) {
            const auto& nvc = self.cast<const NameValueCollection&>();
            return type_name(self) + "(" + py::repr(items(nvc)).cast<std::string>() + ")";
        });

    // ------------------------------------------------------------ MessageHeader

    py::classh<MessageHeader, NameValueCollection>(
        m, "MessageHeader",
        "RFC 2822 header fields: a NameValueCollection that can be written to and read from "
        "binary streams. The field limit applies only when reading.")
        .def(py::init<>())
        .def(py::init([](const MessageHeader& other) {
                 check_can_look(static_cast<const NVC*>(&other));
                 return MessageHeader(other);
             }),
             py::arg("messageHeader"), "A copy of another one.")
        .def(
            "write",
            [](const MessageHeader& self, py::object stream) {
                InUse busy({static_cast<const NVC*>(&self)}, Use::writing);
                PyOutputStream out(std::move(stream));
                {
                    py::gil_scoped_release nogil;
                    self.write(out);
                }
                out.finish();
            },
            py::arg("ostr"),
            "Writes 'Name: value' lines ending in CRLF to a writable binary file object.")
        .def(
            "read",
            [](MessageHeader& self, py::object stream) {
                InUse busy({static_cast<const NVC*>(&self)}, Use::reading);
                PyInputStream in(std::move(stream));
                {
                    py::gil_scoped_release nogil;
                    self.read(in);
                }
                in.giveBack();
            },
            py::arg("istr"),
            "Reads fields (with folding) from a readable binary file object or bytes, up to the "
            "first empty line. Raises MessageException on malformed input or too many fields.")
        .def("setAutoDecode", changes<NVC>(&MessageHeader::setAutoDecode), py::arg("convert"))
        .def("getAutoDecode", looks<NVC>(&MessageHeader::getAutoDecode))
        .def("getDecoded",
             looks<NVC>(
                 py::overload_cast<const std::string&>(&MessageHeader::getDecoded, py::const_)),
             py::arg("name"), "The RFC 2047-decoded value; raises NotFoundException if absent.")
        .def("getDecoded",
             looks<NVC>(py::overload_cast<const std::string&, const std::string&>(
                 &MessageHeader::getDecoded, py::const_)),
             py::arg("name"), py::arg("defaultValue"))
        .def("getFieldLimit", looks<NVC>(&MessageHeader::getFieldLimit))
        .def("setFieldLimit", changes<NVC>(&MessageHeader::setFieldLimit), py::arg("limit"),
             "Maximum number of fields read() accepts; 0 is unlimited. Default 100.")
        .def("getNameLengthLimit", looks<NVC>(&MessageHeader::getNameLengthLimit))
        .def("setNameLengthLimit", changes<NVC>(&MessageHeader::setNameLengthLimit),
             py::arg("limit"))
        .def("getValueLengthLimit", looks<NVC>(&MessageHeader::getValueLengthLimit))
        .def("setValueLengthLimit", changes<NVC>(&MessageHeader::setValueLengthLimit),
             py::arg("limit"))
        .def("hasToken", looks<NVC>(&MessageHeader::hasToken), py::arg("fieldName"),
             py::arg("token"),
             "True if the comma-separated field contains token (case-insensitive).")
        .def_static(
            "splitElements",
            [](const std::string& s, bool ignoreEmpty) {
                std::vector<std::string> elements;
                MessageHeader::splitElements(s, elements, ignoreEmpty);
                return elements;
            },
            py::arg("s"), py::arg("ignoreEmpty") = true,
            "Splits at commas outside double quotes; returns the list of elements.")
        .def_static(
            "splitParameters",
            [](const std::string& s) {
                std::string value;
                NameValueCollection parameters;
                MessageHeader::splitParameters(s, value, parameters);
                return py::make_tuple(value, parameters);
            },
            py::arg("s"),
            "Splits 'value; a=1; b=\"2\"' into (value, NameValueCollection of parameters).")
        .def_static(
            "quote",
            [](const std::string& value, bool allowSpace) {
                std::string result;
                MessageHeader::quote(value, result, allowSpace);
                return result;
            },
            py::arg("value"), py::arg("allowSpace") = false,
            "value, enclosed in double quotes if it has characters other than letters, digits, "
            "'.', '_', '-' (and spaces when allowSpace).")
        .def_static(
            "decodeRFC2047",
            [](const std::string& ins, const std::string& charset) {
                std::string outs;
                MessageHeader::decodeRFC2047(ins, outs, charset);
                return py::bytes(outs);
            },
            py::arg("ins"), py::arg("charset") = "UTF-8",
            "Decodes RFC 2047 encoded words into octets of charset (returned as bytes).")
        .def_static("decodeWord", &MessageHeader::decodeWord, py::arg("text"),
                    py::arg("charset") = "UTF-8",
                    "Decodes RFC 2047 encoded words to text in charset (UTF-8 by default).");

    // ------------------------------------------------------------ MediaType

    py::classh<MediaType>(m, "MediaType",
                          "A MIME media type: type/subType plus parameters (RFC 2045, 2046).")
        .def(py::init([](const std::string& mediaType) {
                 require_single_line(mediaType, "the media type");
                 return MediaType(mediaType);
             }),
             py::arg("mediaType"), "Parses '<type>/<subtype>{;<parameter>=<value>}'.")
        .def(py::init([](const std::string& type, const std::string& subType) {
                 require_single_line(type, "the media type");
                 require_single_line(subType, "the media subtype");
                 return MediaType(type, subType);
             }),
             py::arg("type"), py::arg("subType"))
        .def(py::init<const MediaType&>(), py::arg("mediaType"), "A copy of another one.")
        .def("setType", single_line(&MediaType::setType, "the media type"), py::arg("type"))
        .def("getType", &MediaType::getType)
        .def("setSubType", single_line(&MediaType::setSubType, "the media subtype"),
             py::arg("subType"))
        .def("getSubType", &MediaType::getSubType)
        .def(
            "setParameter",
            [](MediaType& self, const std::string& name, const std::string& value) {
                require_header_field(name, value);
                self.setParameter(name, value);
            },
            py::arg("name"), py::arg("value"))
        .def("getParameter", &MediaType::getParameter, py::arg("name"),
             "Raises NotFoundException (a KeyError) if absent.")
        .def("hasParameter", &MediaType::hasParameter, py::arg("name"))
        .def("removeParameter", &MediaType::removeParameter, py::arg("name"))
        // A copy: Poco hands out a const reference, which Python could not
        // keep read-only.
        .def(
            "parameters",
            [](const MediaType& self) { return NameValueCollection(self.parameters()); },
            "A copy of the parameters.")
        .def("toString", &MediaType::toString)
        .def("matches", py::overload_cast<const MediaType&>(&MediaType::matches, py::const_),
             py::arg("mediaType"), "Same type and subtype (case-insensitive).")
        .def("matches",
             py::overload_cast<const std::string&, const std::string&>(&MediaType::matches,
                                                                       py::const_),
             py::arg("type"), py::arg("subType"))
        .def("matches", py::overload_cast<const std::string&>(&MediaType::matches, py::const_),
             py::arg("type"), "Same top-level type (case-insensitive).")
        .def("matchesRange",
             py::overload_cast<const MediaType&>(&MediaType::matchesRange, py::const_),
             py::arg("mediaType"), "As matches(), with '*' as a wildcard type or subtype.")
        .def("matchesRange",
             py::overload_cast<const std::string&, const std::string&>(&MediaType::matchesRange,
                                                                       py::const_),
             py::arg("type"), py::arg("subType"))
        .def("matchesRange",
             py::overload_cast<const std::string&>(&MediaType::matchesRange, py::const_),
             py::arg("type"))
        // Poco defines no operator==; equal string forms are the useful notion.
        .def("__eq__", [](const MediaType& self,
                          const MediaType& other) { return self.toString() == other.toString(); })
        .def("__str__", &MediaType::toString)
        .def("__repr__", [](py::handle self) {
            return type_name(self) + "(" +
                   py::repr(py::str(self.cast<const MediaType&>().toString())).cast<std::string>() +
                   ")";
        });
}

}  // namespace pocosmtp
