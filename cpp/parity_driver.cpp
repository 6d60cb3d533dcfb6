// parity_driver: plays one parity scenario (tests/parity/scenarios/*.json) with
// Poco's own SMTP client, the way a C++ service would, and prints the outcome
// as one JSON object on stdout.
//
//     parity_driver SCENARIO PORT FILEDIR
//
// The session connects to 127.0.0.1:PORT, where the harness runs a recording
// peer; FILEDIR holds the files the scenario names for FilePartSource. The
// scenario format is described in tests/parity/README.md; tests/parity/driver.py
// interprets it the same way through pocosmtp, step for step, so that both
// clients make the same Poco calls in the same order.
//
// Output: {"outcome": "ok" | "exception", "exception": class name without
// namespace, "code": Poco's code(), "message": displayText(), "step": index
// of the failing step, "results": one entry per step that returns something}.
// Exit status 0 whenever the scenario ran (a Poco exception is an outcome,
// not an error); 2 for a malformed scenario or bad arguments.
#include <Poco/Base64Decoder.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/FilePartSource.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/PartSource.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SecureSMTPClientSession.h>
#include <Poco/Net/StringPartSource.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>

#include <cxxabi.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;
using Poco::Net::MailMessage;
using Poco::Net::MailRecipient;
using Poco::Net::PartSource;
using Poco::Net::SMTPClientSession;

namespace {

// A scenario that cannot be played: exit status 2, not an outcome.
struct ScenarioError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string file_dir;

// ---------------------------------------------------------------- values

// A text value is a JSON string (its UTF-8 bytes) or an object:
// {"base64": ...}, {"repeat": text, "count": n}, {"concat": [text, ...]},
// {"encodeWord": text, "charset": "UTF-8"} (MailMessage::encodeWord).
std::string text(const Var& value) {
    if (value.isString()) return value.extract<std::string>();
    if (value.type() != typeid(Object::Ptr)) {
        throw ScenarioError("bad text value: " + value.toString());
    }
    Object::Ptr obj = value.extract<Object::Ptr>();
    if (obj->has("base64")) {
        std::istringstream in(obj->getValue<std::string>("base64"));
        Poco::Base64Decoder decoder(in);
        std::string out;
        Poco::StreamCopier::copyToString(decoder, out);
        return out;
    }
    if (obj->has("repeat")) {
        std::string unit = text(obj->get("repeat"));
        std::string out;
        for (int i = 0, n = obj->getValue<int>("count"); i < n; ++i) out += unit;
        return out;
    }
    if (obj->has("concat")) {
        std::string out;
        Array::Ptr items = obj->getArray("concat");
        for (std::size_t i = 0; i < items->size(); ++i) out += text(items->get(i));
        return out;
    }
    if (obj->has("encodeWord")) {
        std::string word = text(obj->get("encodeWord"));
        if (obj->has("charset")) return MailMessage::encodeWord(word, text(obj->get("charset")));
        return MailMessage::encodeWord(word);
    }
    throw ScenarioError("unknown text value: " + value.toString());
}

std::string text_of(const Object::Ptr& obj, const std::string& key) {
    if (!obj->has(key)) throw ScenarioError("missing \"" + key + "\"");
    return text(obj->get(key));
}

std::vector<std::string> texts(const Array::Ptr& items) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < items->size(); ++i) out.push_back(text(items->get(i)));
    return out;
}

MailMessage::ContentTransferEncoding encoding_named(const std::string& name) {
    static const std::map<std::string, MailMessage::ContentTransferEncoding> table{
        {"ENCODING_7BIT", MailMessage::ENCODING_7BIT},
        {"ENCODING_8BIT", MailMessage::ENCODING_8BIT},
        {"ENCODING_QUOTED_PRINTABLE", MailMessage::ENCODING_QUOTED_PRINTABLE},
        {"ENCODING_BASE64", MailMessage::ENCODING_BASE64},
    };
    auto found = table.find(name);
    if (found == table.end()) throw ScenarioError("unknown encoding " + name);
    return found->second;
}

MailMessage::ContentDisposition disposition_named(const std::string& name) {
    if (name == "CONTENT_INLINE") return MailMessage::CONTENT_INLINE;
    if (name == "CONTENT_ATTACHMENT") return MailMessage::CONTENT_ATTACHMENT;
    throw ScenarioError("unknown disposition " + name);
}

MailRecipient::RecipientType recipient_type_named(const std::string& name) {
    if (name == "PRIMARY_RECIPIENT") return MailRecipient::PRIMARY_RECIPIENT;
    if (name == "CC_RECIPIENT") return MailRecipient::CC_RECIPIENT;
    if (name == "BCC_RECIPIENT") return MailRecipient::BCC_RECIPIENT;
    throw ScenarioError("unknown recipient type " + name);
}

SMTPClientSession::LoginMethod login_method_named(const std::string& name) {
    static const std::map<std::string, SMTPClientSession::LoginMethod> table{
        {"AUTH_NONE", SMTPClientSession::AUTH_NONE},
        {"AUTH_CRAM_MD5", SMTPClientSession::AUTH_CRAM_MD5},
        {"AUTH_CRAM_SHA1", SMTPClientSession::AUTH_CRAM_SHA1},
        {"AUTH_LOGIN", SMTPClientSession::AUTH_LOGIN},
        {"AUTH_PLAIN", SMTPClientSession::AUTH_PLAIN},
        {"AUTH_XOAUTH2", SMTPClientSession::AUTH_XOAUTH2},
        {"AUTH_NTLM", SMTPClientSession::AUTH_NTLM},
    };
    auto found = table.find(name);
    if (found == table.end()) throw ScenarioError("unknown login method " + name);
    return found->second;
}

// ---------------------------------------------------------------- messages

void set_headers(Poco::Net::MessageHeader& header, const Object::Ptr& spec) {
    if (!spec->has("headers")) return;
    Array::Ptr pairs = spec->getArray("headers");
    for (std::size_t i = 0; i < pairs->size(); ++i) {
        Array::Ptr pair = pairs->getArray(i);
        header.set(text(pair->get(0)), text(pair->get(1)));
    }
}

struct PartCall {
    std::string name;
    std::unique_ptr<PartSource> source;
    MailMessage::ContentDisposition disposition;
    MailMessage::ContentTransferEncoding encoding;
};

PartCall part_call(const Object::Ptr& spec);

// {"kind": "string" | "file" | "multipart", ...}; see the README.
std::unique_ptr<PartSource> part_source(const Object::Ptr& spec) {
    std::string kind = spec->getValue<std::string>("kind");
    std::unique_ptr<PartSource> source;
    if (kind == "string") {
        std::string data = text_of(spec, "data");
        if (spec->has("filename")) {
            source = std::make_unique<Poco::Net::StringPartSource>(data, text_of(spec, "mediaType"),
                                                                   text_of(spec, "filename"));
        } else if (spec->has("mediaType")) {
            source =
                std::make_unique<Poco::Net::StringPartSource>(data, text_of(spec, "mediaType"));
        } else {
            source = std::make_unique<Poco::Net::StringPartSource>(data);
        }
    } else if (kind == "file") {
        std::string path = Poco::Path(file_dir).append(text_of(spec, "file")).toString();
        if (spec->has("filename")) {
            source = std::make_unique<Poco::Net::FilePartSource>(path, text_of(spec, "filename"),
                                                                 text_of(spec, "mediaType"));
        } else if (spec->has("mediaType")) {
            source = std::make_unique<Poco::Net::FilePartSource>(path, text_of(spec, "mediaType"));
        } else {
            source = std::make_unique<Poco::Net::FilePartSource>(path);
        }
    } else if (kind == "multipart") {
        std::unique_ptr<Poco::Net::MultipartSource> multipart;
        if (spec->has("mediaType")) {
            multipart = std::make_unique<Poco::Net::MultipartSource>(text_of(spec, "mediaType"));
        } else {
            multipart = std::make_unique<Poco::Net::MultipartSource>();
        }
        Array::Ptr parts = spec->getArray("parts");
        for (std::size_t i = 0; i < parts->size(); ++i) {
            PartCall call = part_call(parts->getObject(i));
            multipart->addPart(call.name, call.source.release(), call.disposition, call.encoding);
        }
        source = std::move(multipart);
    } else {
        throw ScenarioError("unknown part source kind " + kind);
    }
    set_headers(source->headers(), spec);
    return source;
}

// The arguments of one addPart-like call; defaults are those of the
// MailMessage method named by "call", where it has any.
PartCall part_call(const Object::Ptr& spec) {
    std::string call = spec->optValue<std::string>("call", "addPart");
    PartCall out;
    out.name = spec->has("name") ? text_of(spec, "name") : "";
    out.source = part_source(spec->getObject("source"));
    out.disposition =
        call == "addAttachment" ? MailMessage::CONTENT_ATTACHMENT : MailMessage::CONTENT_INLINE;
    if (spec->has("disposition")) {
        out.disposition = disposition_named(spec->getValue<std::string>("disposition"));
    }
    out.encoding = call == "addAttachment" ? MailMessage::ENCODING_BASE64
                                           : MailMessage::ENCODING_QUOTED_PRINTABLE;
    if (spec->has("encoding")) {
        out.encoding = encoding_named(spec->getValue<std::string>("encoding"));
    }
    return out;
}

void add_part(MailMessage& message, const Object::Ptr& spec) {
    std::string call = spec->optValue<std::string>("call", "addPart");
    bool has_encoding = spec->has("encoding");
    PartCall args = part_call(spec);
    PartSource* source = args.source.release();  // MailMessage owns it from here on
    if (call == "addPart") {
        message.addPart(args.name, source, args.disposition, args.encoding);
    } else if (call == "addContent") {
        if (has_encoding) {
            message.addContent(source, args.encoding);
        } else {
            message.addContent(source);
        }
    } else if (call == "addAttachment") {
        if (has_encoding) {
            message.addAttachment(args.name, source, args.encoding);
        } else {
            message.addAttachment(args.name, source);
        }
    } else {
        delete source;
        throw ScenarioError("unknown part call " + call);
    }
}

// Applies the message description in a fixed order, the same as driver.py.
std::unique_ptr<MailMessage> build_message(const Object::Ptr& spec) {
    auto message = std::make_unique<MailMessage>();
    if (spec->has("sender")) message->setSender(text_of(spec, "sender"));
    if (spec->has("subject")) message->setSubject(text_of(spec, "subject"));
    if (spec->has("recipients")) {
        MailMessage::Recipients recipients;
        Array::Ptr list = spec->getArray("recipients");
        for (std::size_t i = 0; i < list->size(); ++i) {
            Object::Ptr r = list->getObject(i);
            MailRecipient::RecipientType type =
                recipient_type_named(r->optValue<std::string>("type", "PRIMARY_RECIPIENT"));
            if (r->has("realName")) {
                recipients.emplace_back(type, text_of(r, "address"), text_of(r, "realName"));
            } else {
                recipients.emplace_back(type, text_of(r, "address"));
            }
        }
        if (spec->optValue<bool>("setRecipients", false)) {
            message->setRecipients(recipients);
        } else {
            for (const auto& recipient : recipients) message->addRecipient(recipient);
        }
    }
    if (spec->has("contentType")) message->setContentType(text_of(spec, "contentType"));
    if (spec->has("content")) {
        if (spec->has("encoding")) {
            message->setContent(text_of(spec, "content"),
                                encoding_named(spec->getValue<std::string>("encoding")));
        } else {
            message->setContent(text_of(spec, "content"));
        }
    }
    set_headers(*message, spec);
    if (spec->has("date")) {
        message->setDate(Poco::Timestamp::fromEpochTime(spec->getValue<Poco::Int64>("date")));
    }
    if (spec->has("parts")) {
        Array::Ptr parts = spec->getArray("parts");
        for (std::size_t i = 0; i < parts->size(); ++i) add_part(*message, parts->getObject(i));
    }
    return message;
}

// ---------------------------------------------------------------- session

// Runs one step; returns a result object for steps that return something.
Object::Ptr run_step(SMTPClientSession& session, const Object::Ptr& step,
                     std::map<std::string, std::unique_ptr<MailMessage>>& messages) {
    std::string op = step->getValue<std::string>("op");
    if (op == "open") {
        session.open();
    } else if (op == "login") {
        bool has_host = step->has("hostname");
        if (step->has("method")) {
            auto method = login_method_named(step->getValue<std::string>("method"));
            std::string user = text_of(step, "username");
            std::string password = text_of(step, "password");
            if (has_host) {
                session.login(text_of(step, "hostname"), method, user, password);
            } else {
                session.login(method, user, password);
            }
        } else if (has_host) {
            session.login(text_of(step, "hostname"));
        } else {
            session.login();
        }
    } else if (op == "sendMessage") {
        if (step->has("stream")) {
            std::istringstream in(text_of(step, "stream"));
            session.sendMessage(in);
        } else {
            std::string name = step->optValue<std::string>("message", "main");
            auto found = messages.find(name);
            if (found == messages.end()) throw ScenarioError("no message named " + name);
            if (step->has("recipients")) {
                session.sendMessage(*found->second, texts(step->getArray("recipients")));
            } else {
                session.sendMessage(*found->second);
            }
        }
    } else if (op == "sendCommand") {
        std::string response;
        int status = step->has("arg") ? session.sendCommand(text_of(step, "command"),
                                                            text_of(step, "arg"), response)
                                      : session.sendCommand(text_of(step, "command"), response);
        Object::Ptr result = new Object;
        result->set("status", status);
        result->set("response", response);
        return result;
    } else if (op == "sendAddresses") {
        session.sendAddresses(text_of(step, "from"), texts(step->getArray("recipients")));
    } else if (op == "sendData") {
        session.sendData();
    } else if (op == "close") {
        session.close();
    } else if (op == "setTimeout") {
        session.setTimeout(Poco::Timespan(step->getValue<Poco::Int64>("ms") * 1000));
    } else if (op == "getTimeout") {
        Object::Ptr result = new Object;
        result->set("timeout_us", session.getTimeout().totalMicroseconds());
        return result;
    } else if (op == "startTLS") {
        auto* secure = dynamic_cast<Poco::Net::SecureSMTPClientSession*>(&session);
        if (!secure) throw ScenarioError("startTLS needs \"session\": \"SecureSMTPClientSession\"");
        // An explicit context: Poco's default one needs an SSLManager
        // configuration the scenario does not describe.
        Poco::Net::Context::Ptr context = new Poco::Net::Context(
            Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_NONE);
        Object::Ptr result = new Object;
        result->set("value", secure->startTLS(context));
        return result;
    } else {
        throw ScenarioError("unknown op " + op);
    }
    return nullptr;
}

std::string class_name(const std::type_info& type) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
    std::string name = status == 0 && demangled ? demangled : type.name();
    std::free(demangled);
    std::string::size_type colon = name.rfind("::");
    return colon == std::string::npos ? name : name.substr(colon + 2);
}

Object::Ptr load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ScenarioError("cannot read " + path);
    Poco::JSON::Parser parser;
    return parser.parse(in).extract<Object::Ptr>();
}

Object::Ptr play(const Object::Ptr& scenario, Poco::UInt16 port) {
    Object::Ptr out = new Object;
    Array::Ptr results = new Array;
    out->set("results", results);

    std::string kind = scenario->optValue<std::string>("session", "SMTPClientSession");
    std::unique_ptr<SMTPClientSession> session;
    std::map<std::string, std::unique_ptr<MailMessage>> messages;
    int index = -1;  // -1: building the session and the messages
    try {
        if (kind == "SMTPClientSession") {
            session = std::make_unique<SMTPClientSession>("127.0.0.1", port);
        } else if (kind == "SecureSMTPClientSession") {
            session = std::make_unique<Poco::Net::SecureSMTPClientSession>("127.0.0.1", port);
        } else {
            throw ScenarioError("unknown session class " + kind);
        }
        if (scenario->has("message")) {
            messages["main"] = build_message(scenario->getObject("message"));
        }
        if (scenario->has("messages")) {
            Object::Ptr named = scenario->getObject("messages");
            for (const auto& name : named->getNames()) {
                messages[name] = build_message(named->getObject(name));
            }
        }
        Array::Ptr steps = scenario->getArray("steps");
        for (index = 0; index < static_cast<int>(steps->size()); ++index) {
            Object::Ptr result = run_step(*session, steps->getObject(index), messages);
            if (result) {
                result->set("step", index);
                results->add(result);
            }
        }
        out->set("outcome", "ok");
    } catch (const ScenarioError&) {
        throw;
    } catch (const Poco::Exception& e) {
        out->set("outcome", "exception");
        out->set("exception", class_name(typeid(e)));
        out->set("code", e.code());
        out->set("message", e.displayText());
        out->set("step", index);
    } catch (const std::exception& e) {
        out->set("outcome", "exception");
        out->set("exception", class_name(typeid(e)));
        out->set("code", 0);
        out->set("message", std::string(e.what()));
        out->set("step", index);
    }
    // Like a C++ service leaving scope: Poco's destructor sends QUIT if the
    // session is open and swallows any error.
    session.reset();
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: parity_driver SCENARIO PORT FILEDIR\n";
        return 2;
    }
    file_dir = argv[3];
    // As a service (and the Python interpreter) does: a peer that hangs up
    // must surface as an exception from send(), not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    Poco::Net::initializeSSL();
    int status = 0;
    try {
        Object::Ptr scenario = load(argv[1]);
        Object::Ptr out = play(scenario, static_cast<Poco::UInt16>(std::stoi(argv[2])));
        out->stringify(std::cout);
        std::cout << std::endl;
    } catch (const std::exception& e) {
        // ScenarioError, or Poco's JSON and conversion errors on a bad file.
        const auto* poco = dynamic_cast<const Poco::Exception*>(&e);
        std::cerr << "parity_driver: " << argv[1] << ": "
                  << (poco ? poco->displayText() : std::string(e.what())) << "\n";
        status = 2;
    }
    Poco::Net::uninitializeSSL();
    return status;
}
