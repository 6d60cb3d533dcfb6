// Poco::Net::MailRecipient, MailMessage (with its Part records) and
// MultipartSource, which Poco declares beside MailMessage.
//
// Content crosses as octets: setContent and the part sources take str (sent
// as UTF-8) or bytes (sent unchanged). getContent() returns str, decoded as
// UTF-8 and raising UnicodeDecodeError otherwise; getContent(raw=True)
// returns the exact octets as bytes. That keeps Poco's single getter name
// while never guessing at a charset.
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/MediaType.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/Net/PartStore.h>
#include <pybind11/native_enum.h>
#include <pybind11/stl.h>

#include <string>
#include <type_traits>
#include <vector>

#include "conversions.h"
#include "guards.h"
#include "init.h"
#include "message.h"
#include "parts.h"
#include "pystreams.h"

namespace pocosmtp {

namespace py = pybind11;
using Poco::Net::MailMessage;
using Poco::Net::MailRecipient;
using Poco::Net::MediaType;
using Poco::Net::MessageHeader;
using Poco::Net::MultipartSource;
using Poco::Net::NameValueCollection;
using NVC = NameValueCollection;
using Poco::Net::PartSource;
using Poco::Net::PartStoreFactory;

namespace {

// A Python view of one MailMessage::Part. It holds the message, so the
// source it points to (owned by the message) lives as long as the view.
struct PartView {
    py::object message;
    std::string name;
    PartSource* pSource;
    MailMessage::ContentDisposition disposition;
    MailMessage::ContentTransferEncoding encoding;
};

const char* recipient_type_name(MailRecipient::RecipientType type) {
    switch (type) {
        case MailRecipient::PRIMARY_RECIPIENT:
            return "PRIMARY_RECIPIENT";
        case MailRecipient::CC_RECIPIENT:
            return "CC_RECIPIENT";
        case MailRecipient::BCC_RECIPIENT:
            return "BCC_RECIPIENT";
    }
    return "?";
}

// Poco keeps the source only once the call returns normally; until then the
// unique_ptr still owns it, so nothing leaks if Poco throws.
// A MailMessage lives as long as any headers() object of its parts; a
// MultipartSource may itself be handed over later, so it cannot promise that
// and take_part_source refuses sources with headers() objects in use.
template <typename Owner, typename AddFn>
void hand_over(const void* target, Owner& owner, py::handle source, AddFn add) {
    check_can_change(target);
    py::handle owner_object;
    if constexpr (std::is_same_v<Owner, MailMessage>) {
        owner_object = py::detail::find_registered_python_instance(
            &owner, py::detail::get_type_info(typeid(MailMessage)));
    }
    auto borrowed = py::reinterpret_steal<py::object>(owner_object);
    auto owned = take_part_source(source, borrowed);
    add(owned.get());
    adopted(owned.release(), &owner, typeid(Owner));
}

// A setter whose argument ends up in a header field (guards.h).
template <typename Class>
auto header_text(void (Class::*fn)(const std::string&), const char* what) {
    return [fn, what](Class& self, const std::string& value) {
        if constexpr (std::is_base_of_v<NVC, Class>) check_can_change(static_cast<NVC*>(&self));
        require_header_text(value, what);
        (self.*fn)(value);
    };
}

MailRecipient recipient_of(MailRecipient::RecipientType type, const std::string& address,
                           const std::string& realName) {
    require_single_line(address, "the recipient's address");
    require_header_text(realName, "the recipient's real name");
    return MailRecipient(type, address, realName);
}

}  // namespace

void init_message(py::module_& m) {
    // ------------------------------------------------------------ MailRecipient

    py::classh<MailRecipient> recipient(
        m, "MailRecipient",
        "A recipient of a message: type (primary, CC, BCC), address and optional real name.");

    py::native_enum<MailRecipient::RecipientType>(recipient, "RecipientType", "enum.IntEnum")
        .value("PRIMARY_RECIPIENT", MailRecipient::PRIMARY_RECIPIENT)
        .value("CC_RECIPIENT", MailRecipient::CC_RECIPIENT)
        .value("BCC_RECIPIENT", MailRecipient::BCC_RECIPIENT)
        .export_values()
        .finalize();

    recipient.def(py::init<>())
        .def(py::init<const MailRecipient&>(), py::arg("recipient"))
        .def(py::init([](MailRecipient::RecipientType type, const std::string& address) {
                 return recipient_of(type, address, "");
             }),
             py::arg("type"), py::arg("address"))
        .def(py::init(&recipient_of), py::arg("type"), py::arg("address"), py::arg("realName"),
             "CR or LF in address or realName raises InvalidArgumentException (a ValueError).")
        .def("getType", &MailRecipient::getType)
        .def("setType", &MailRecipient::setType, py::arg("type"))
        .def("getAddress", &MailRecipient::getAddress)
        .def(
            "setAddress",
            [](MailRecipient& self, const std::string& address) {
                require_single_line(address, "the recipient's address");
                self.setAddress(address);
            },
            py::arg("address"))
        .def("getRealName", &MailRecipient::getRealName)
        .def("setRealName", header_text(&MailRecipient::setRealName, "the recipient's real name"),
             py::arg("realName"))
        .def("swap", &MailRecipient::swap, py::arg("recipient"))
        .def("__eq__",
             [](const MailRecipient& a, const MailRecipient& b) {
                 return a.getType() == b.getType() && a.getAddress() == b.getAddress() &&
                        a.getRealName() == b.getRealName();
             })
        .def("__repr__", [](const MailRecipient& r) {
            std::string out = std::string("MailRecipient(MailRecipient.") +
                              recipient_type_name(r.getType()) + ", " +
                              py::repr(py::str(r.getAddress())).cast<std::string>();
            if (!r.getRealName().empty()) {
                out += ", " + py::repr(py::str(r.getRealName())).cast<std::string>();
            }
            return out + ")";
        });

    // ------------------------------------------------------------ MailMessage

    py::classh<MailMessage, MessageHeader> message(
        m, "MailMessage",
        "An e-mail message: header fields, recipients, and either a single content or MIME "
        "parts. A new message has Date set to now and Content-Type text/plain.\n\n"
        "With a PartStoreFactory, the parts of a message being read are kept in the stores "
        "it makes (FilePartStoreFactory: temporary files) instead of in memory; the factory "
        "is kept alive by the message.");

    py::native_enum<MailMessage::ContentDisposition>(message, "ContentDisposition", "enum.IntEnum")
        .value("CONTENT_INLINE", MailMessage::CONTENT_INLINE)
        .value("CONTENT_ATTACHMENT", MailMessage::CONTENT_ATTACHMENT)
        .export_values()
        .finalize();

    py::native_enum<MailMessage::ContentTransferEncoding>(message, "ContentTransferEncoding",
                                                          "enum.IntEnum")
        .value("ENCODING_7BIT", MailMessage::ENCODING_7BIT)
        .value("ENCODING_8BIT", MailMessage::ENCODING_8BIT)
        .value("ENCODING_QUOTED_PRINTABLE", MailMessage::ENCODING_QUOTED_PRINTABLE)
        .value("ENCODING_BASE64", MailMessage::ENCODING_BASE64)
        .export_values()
        .finalize();

    py::class_<PartView>(message, "Part",
                         "One part of a message, as Poco's MailMessage::Part: name, pSource "
                         "(the concrete PartSource, owned by the message), disposition, "
                         "encoding.")
        .def_readonly("name", &PartView::name)
        .def_property_readonly(
            "pSource", [](const PartView& v) { return v.pSource; },
            py::return_value_policy::reference_internal)
        .def_readonly("disposition", &PartView::disposition)
        .def_readonly("encoding", &PartView::encoding)
        .def("__repr__", [](const PartView& v) {
            return "<MailMessage.Part " + py::repr(py::str(v.name)).cast<std::string>() + " " +
                   py::repr(py::cast(v.pSource, py::return_value_policy::reference))
                       .cast<std::string>() +
                   " " + py::repr(py::cast(v.disposition)).cast<std::string>() + " " +
                   py::repr(py::cast(v.encoding)).cast<std::string>() + ">";
        });

    const char* const header_names[][2] = {
        {"HEADER_SUBJECT", MailMessage::HEADER_SUBJECT.c_str()},
        {"HEADER_FROM", MailMessage::HEADER_FROM.c_str()},
        {"HEADER_TO", MailMessage::HEADER_TO.c_str()},
        {"HEADER_CC", MailMessage::HEADER_CC.c_str()},
        {"HEADER_BCC", MailMessage::HEADER_BCC.c_str()},
        {"HEADER_DATE", MailMessage::HEADER_DATE.c_str()},
        {"HEADER_CONTENT_TYPE", MailMessage::HEADER_CONTENT_TYPE.c_str()},
        {"HEADER_CONTENT_TRANSFER_ENCODING", MailMessage::HEADER_CONTENT_TRANSFER_ENCODING.c_str()},
        {"HEADER_CONTENT_DISPOSITION", MailMessage::HEADER_CONTENT_DISPOSITION.c_str()},
        {"HEADER_CONTENT_ID", MailMessage::HEADER_CONTENT_ID.c_str()},
        {"HEADER_MIME_VERSION", MailMessage::HEADER_MIME_VERSION.c_str()},
        {"EMPTY_HEADER", MailMessage::EMPTY_HEADER.c_str()},
        {"TEXT_PLAIN", MailMessage::TEXT_PLAIN.c_str()},
        {"CTE_7BIT", MailMessage::CTE_7BIT.c_str()},
        {"CTE_8BIT", MailMessage::CTE_8BIT.c_str()},
        {"CTE_QUOTED_PRINTABLE", MailMessage::CTE_QUOTED_PRINTABLE.c_str()},
        {"CTE_BASE64", MailMessage::CTE_BASE64.c_str()},
    };
    for (const auto& [name, value] : header_names) message.attr(name) = py::str(value);

    message
        .def(py::init<PartStoreFactory*>(), py::arg("pStoreFactory") = nullptr,
             py::keep_alive<1, 2>())
        .def("addRecipient", changes<NVC>(&MailMessage::addRecipient), py::arg("recipient"))
        .def("setRecipients", changes<NVC>(&MailMessage::setRecipients), py::arg("recipient"),
             "Replaces the recipients with the given list.")
        .def(
            "recipients",
            [](const MailMessage& self) {
                check_can_look(static_cast<const NVC*>(&self));
                return MailMessage::Recipients(self.recipients());
            },
            "A list of copies of the recipients.")
        .def("setSubject", header_text(&MailMessage::setSubject, "the subject"), py::arg("subject"),
             "ASCII only; encode other text with encodeWord().")
        .def("getSubject", looks<NVC>(&MailMessage::getSubject))
        .def("setSender", header_text(&MailMessage::setSender, "the sender"), py::arg("sender"),
             "The From field: an address, or 'Real Name <address>'. ASCII only; encode other "
             "text with encodeWord().")
        .def("getSender", looks<NVC>(&MailMessage::getSender))
        .def("setContent", changes<NVC>(&MailMessage::setContent), py::arg("content"),
             py::arg("encoding") = MailMessage::ENCODING_QUOTED_PRINTABLE,
             "Sets a single-part body: str (sent as UTF-8) or bytes (unchanged). Lines must end "
             "in CRLF.")
        .def(
            "getContent",
            [](const MailMessage& self, bool raw) -> py::object {
                check_can_look(static_cast<const NVC*>(&self));
                py::bytes octets(self.getContent());
                if (raw) return std::move(octets);
                return octets.attr("decode")("utf-8");
            },
            py::arg("raw") = false,
            "The single-part body (decoded from its transfer encoding) as str; raises "
            "UnicodeDecodeError if it is not UTF-8. raw=True returns the octets as bytes.")
        .def("setContentType",
             header_text(py::overload_cast<const std::string&>(&MailMessage::setContentType),
                         "the content type"),
             py::arg("mediaType"))
        .def("setContentType",
             changes<NVC>(py::overload_cast<const MediaType&>(&MailMessage::setContentType)),
             py::arg("mediaType"))
        .def("getContentType", looks<NVC>(&MailMessage::getContentType))
        .def("setDate", changes<NVC>(&MailMessage::setDate), py::arg("dateTime"),
             "Sets Date from a timezone-aware datetime (written in GMT, whole seconds); a naive "
             "one raises ValueError.")
        .def("getDate", looks<NVC>(&MailMessage::getDate), "Date as an aware datetime in UTC.")
        .def("isMultipart", looks<NVC>(&MailMessage::isMultipart))
        .def(
            "addPart",
            [](MailMessage& self, const std::string& name, py::handle pSource,
               MailMessage::ContentDisposition disposition,
               MailMessage::ContentTransferEncoding encoding) {
                require_header_text(name, "the part's name");
                hand_over(static_cast<const NVC*>(&self), self, pSource,
                          [&](PartSource* p) { self.addPart(name, p, disposition, encoding); });
            },
            py::arg("name"), py::arg("pSource"), py::arg("disposition"), py::arg("encoding"),
            "Adds a part, making the message multipart/mixed if it is not multipart. The "
            "message takes the source over: using it again raises ValueError.")
        .def(
            "addContent",
            [](MailMessage& self, py::handle pSource,
               MailMessage::ContentTransferEncoding encoding) {
                hand_over(static_cast<const NVC*>(&self), self, pSource,
                          [&](PartSource* p) { self.addContent(p, encoding); });
            },
            py::arg("pSource"), py::arg("encoding") = MailMessage::ENCODING_QUOTED_PRINTABLE,
            "addPart('', pSource, CONTENT_INLINE, encoding).")
        .def(
            "addAttachment",
            [](MailMessage& self, const std::string& name, py::handle pSource,
               MailMessage::ContentTransferEncoding encoding) {
                require_header_text(name, "the attachment's name");
                hand_over(static_cast<const NVC*>(&self), self, pSource,
                          [&](PartSource* p) { self.addAttachment(name, p, encoding); });
            },
            py::arg("name"), py::arg("pSource"), py::arg("encoding") = MailMessage::ENCODING_BASE64,
            "addPart(name, pSource, CONTENT_ATTACHMENT, encoding).")
        .def(
            "createPartStore",
            [](MailMessage& self, const std::string& content, const std::string& mediaType,
               const std::string& filename) {
                return std::unique_ptr<PartSource>(
                    self.createPartStore(content, mediaType, filename));
            },
            py::arg("content"), py::arg("mediaType"), py::arg("filename") = "",
            "A new StringPartSource, or what the message's PartStoreFactory makes.")
        .def(
            "parts",
            [](py::object self) {
                check_can_look(static_cast<const NVC*>(&self.cast<const MailMessage&>()));
                py::list out;
                for (const auto& part : self.cast<const MailMessage&>().parts()) {
                    out.append(
                        PartView{self, part.name, part.pSource, part.disposition, part.encoding});
                }
                return out;
            },
            "The parts, in order, as MailMessage.Part views.")
        .def(
            "read",
            [](MailMessage& self, py::object istr) {
                {
                    InUse busy({static_cast<const NVC*>(&self)}, Use::reading);
                    PyInputStream in(std::move(istr));
                    {
                        py::gil_scoped_release nogil;
                        self.read(in);
                    }
                    in.giveBack();
                }
                // Parts made by a Python PartStoreFactory are Python objects too.
                for (const auto& part : self.parts()) {
                    adopted(part.pSource, &self, typeid(MailMessage));
                }
            },
            py::arg("istr"),
            "Reads a message from a readable binary file object or bytes. A multipart "
            "message's parts are kept (see parts()); otherwise the body is in getContent(). "
            "Parts are added to any already present.")
        .def(
            "read",
            [](MailMessage& self, py::object istr, BindablePartHandler& handler) {
                InUse busy({static_cast<const NVC*>(&self)}, Use::reading);
                PyInputStream in(std::move(istr));
                {
                    py::gil_scoped_release nogil;
                    self.read(in, handler);
                }
                in.giveBack();
            },
            py::arg("istr"), py::arg("handler"),
            "Reads a message, reporting each part of a multipart message to handler.")
        .def(
            "write",
            [](const MailMessage& self, py::object ostr) {
                InUse busy(message_objects(self), Use::writing);
                require_clean_message(self);
                PyOutputStream out(std::move(ostr));
                {
                    py::gil_scoped_release nogil;
                    self.write(out);
                }
                out.finish();
            },
            py::arg("ostr"),
            "Writes the message (headers, then body or MIME parts) to a writable binary file "
            "object. Parts are read from their sources as they are written; Poco reads "
            "StringPartSource, FilePartSource and MultipartSource data once, so writing or "
            "sending the same message again gives those parts empty (FileObjectPartSource "
            "rewinds seekable files). While it runs, the message cannot be changed (RuntimeError).")
        .def_static("encodeWord", &MailMessage::encodeWord, py::arg("text"),
                    py::arg("charset") = "UTF-8",
                    "RFC 2047 'Q' encoding of text if it has non-ASCII octets, else text as is. "
                    "text must already be in charset: str is UTF-8; pass bytes for others.");

    // ------------------------------------------------------------ MultipartSource

    py::classh<MultipartSource, PartSource>(
        m, "MultipartSource",
        "A part made of nested parts (e.g. multipart/alternative or multipart/related). Add "
        "every nested part before handing it to a MailMessage, which then owns it. Its "
        "content is assembled when the message is written, so it can be written once.")
        .def(py::init<const std::string&>(), py::arg("contentType") = "multipart/alternative")
        .def(
            "addPart",
            [](MultipartSource& self, const std::string& name, py::handle pSource,
               MailMessage::ContentDisposition disposition,
               MailMessage::ContentTransferEncoding encoding) {
                require_header_text(name, "the part's name");
                hand_over(static_cast<const PartSource*>(&self), self, pSource,
                          [&](PartSource* p) { self.addPart(name, p, disposition, encoding); });
            },
            py::arg("name"), py::arg("pSource"), py::arg("disposition"), py::arg("encoding"),
            "Adds a nested part; the MultipartSource takes the source over. A source whose "
            "headers() object is still referenced is refused (ValueError), since that object "
            "could outlive it.");
}

}  // namespace pocosmtp
