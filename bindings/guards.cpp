// The security guards declared in guards.h.
#include "guards.h"

#include <Poco/Exception.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/PartSource.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

namespace pocosmtp {

using Poco::InvalidArgumentException;

namespace {

bool has_line_break(std::string_view value) {
    return value.find_first_of("\r\n") != std::string_view::npos;
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// The first CR or LF in [p, end), or end: two memchr() calls per line
// instead of a test per byte.
const char* first_line_break(const char* p, const char* end) {
    const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const char* stop = lf ? static_cast<const char*>(lf) : end;
    const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(stop - p));
    return cr ? static_cast<const char*>(cr) : stop;
}

// True if every CR or LF in value is part of RFC 5322 folding: CRLF, then
// white space, then a line that is not only white space. A folded value
// (encodeWord's output) stays one header field; anything else would end it.
bool folded_at_most(std::string_view value) {
    for (std::size_t i = value.find_first_of("\r\n"); i != std::string_view::npos;
         i = value.find_first_of("\r\n", i)) {
        if (value[i] != '\r' || i + 2 >= value.size() || value[i + 1] != '\n' ||
            !is_wsp(value[i + 2])) {
            return false;
        }
        i += 2;
        const std::size_t end = std::min(value.find_first_of("\r\n", i), value.size());
        const std::string_view line = value.substr(i, end - i);
        if (line.find_first_not_of(" \t") == std::string_view::npos) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
    return s;
}

bool equals_nocase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

[[noreturn]] void no_sender(const std::string& why) {
    throw InvalidArgumentException(
        "cannot take the envelope sender (MAIL FROM) from the From field: " + why +
        "; send with sendAddresses(), sendData() and sendMessage(stream) to name it");
}

}  // namespace

// ---------------------------------------------------------------- single values

void require_single_line(const std::string& value, const char* what) {
    if (has_line_break(value)) {
        throw InvalidArgumentException(std::string(what) +
                                       " contains CR or LF, which would start a new line on the "
                                       "wire; refused before anything was sent");
    }
}

void require_field_name(const std::string& name) {
    const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return c > 32 && c < 127 && c != ':';
    });
    if (!valid) {
        throw InvalidArgumentException(
            "not a header field name (RFC 5322: printable ASCII, no spaces or ':')", name);
    }
}

void require_header_text(const std::string& value, const char* what) {
    if (!folded_at_most(value)) {
        throw InvalidArgumentException(std::string(what) +
                                       " contains CR or LF other than folding (CRLF and white "
                                       "space), which would start a new header line");
    }
}

void require_header_field(const std::string& name, const std::string& value) {
    require_field_name(name);
    // The name is built only for an error: this runs for every field sent.
    if (!folded_at_most(value)) {
        require_header_text(value, ("the value of header field " + name).c_str());
    }
}

void require_clean_message(const Poco::Net::MailMessage& message) {
    for (const auto& [name, value] : message) require_header_field(name, value);
    for (const auto& recipient : message.recipients()) {
        require_single_line(recipient.getAddress(), "a recipient's address");
        require_header_text(recipient.getRealName(), "a recipient's real name");
    }
    for (const auto& part : message.parts()) {
        require_header_text(part.name, "a part's name");
        require_header_text(part.pSource->filename(), "a part's file name");
        require_header_text(part.pSource->mediaType(), "a part's media type");
        for (const auto& [name, value] : part.pSource->headers()) {
            require_header_field(name, value);
        }
    }
}

// ---------------------------------------------------------------- envelope sender

std::string envelope_sender(const std::string& from) {
    // One pass over RFC 5322's mailbox syntax, enough to find the address:
    // quoted strings and (nested) comments may hold any of '<', '>' and ','.
    std::string bare;  // the value outside quotes, comments and angle brackets
    std::string_view angle;
    int angles = 0;
    bool after_angle = false;
    for (std::size_t i = 0; i < from.size(); ++i) {
        const char c = from[i];
        if (c == '"') {
            const std::size_t start = i;
            for (++i; i < from.size() && from[i] != '"'; ++i) {
                if (from[i] == '\\') ++i;
            }
            if (i >= from.size()) no_sender("a quoted string is not closed");
            if (after_angle) no_sender("text follows the address in angle brackets");
            bare.append(from, start, i - start + 1);
        } else if (c == '(') {
            int depth = 1;
            for (++i; i < from.size() && depth > 0; ++i) {
                if (from[i] == '\\')
                    ++i;
                else if (from[i] == '(')
                    ++depth;
                else if (from[i] == ')')
                    --depth;
            }
            if (depth > 0) no_sender("a comment is not closed");
            --i;
            bare += ' ';
        } else if (c == '<') {
            const std::size_t close = from.find('>', i + 1);
            if (close == std::string::npos) no_sender("'<' is not closed by '>'");
            angle = std::string_view(from).substr(i + 1, close - i - 1);
            if (angle.find('<') != std::string_view::npos) no_sender("'<' inside '<...>'");
            ++angles;
            after_angle = true;
            i = close;
        } else if (c == '>') {
            no_sender("'>' without '<'");
        } else if (c == ',') {
            no_sender("it names more than one mailbox");
        } else if (!is_wsp(c) && c != '\r' && c != '\n') {
            if (after_angle) no_sender("text follows the address in angle brackets");
            bare += c;
        } else {
            bare += c;
        }
    }
    if (angles > 1) no_sender("it has more than one address in angle brackets");
    std::string address;
    if (angles == 1) {
        address = trim(angle);
    } else {
        // A bare addr-spec has no white space outside quoted strings.
        address = trim(bare);
        bool quoted = false;
        for (char c : address) {
            if (c == '"') quoted = !quoted;
            if (!quoted && (is_wsp(c) || c == '\r' || c == '\n')) {
                no_sender("a name without an address in angle brackets");
            }
        }
    }
    require_single_line(address, "the envelope sender taken from the From field");
    return address;
}

// ---------------------------------------------------------------- message data

namespace {
// Bytes gathered before they go on to Poco's stream; small enough to stay
// in cache and cheap to allocate for every message.
constexpr std::size_t kGuardChunk = 8 * 1024;
}  // namespace

DataGuardBuf::DataGuardBuf(std::ostream& target) : target_(target), in_(new char[kGuardChunk]) {
    out_.reserve(kGuardChunk + 2);
    setp(in_.get(), in_.get() + kGuardChunk);
}

DataGuardBuf::int_type DataGuardBuf::overflow(int_type ch) {
    process(pbase(), pptr());
    setp(in_.get(), in_.get() + kGuardChunk);
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
        *pptr() = traits_type::to_char_type(ch);
        pbump(1);
    }
    return traits_type::not_eof(ch);
}

int DataGuardBuf::sync() {
    process(pbase(), pptr());
    setp(in_.get(), in_.get() + kGuardChunk);
    return 0;
}

void DataGuardBuf::process(const char* p, const char* end) {
    while (p < end) {
        // The start of a header line (a field name, a fold, the empty line)
        // and a CR whose meaning the next byte decides go byte by byte.
        if (pending_cr_ || (in_header_ && (line_start_ || reading_name_))) {
            raw(*p++);
            continue;
        }
        // Inside a line: copy the run up to the next line end in one go.
        const char* run = p;
        p = first_line_break(p, end);
        if (!(in_header_ && dropping_)) out_.append(run, p);
        if (p == end) break;
        if (in_header_) {
            raw(*p++);  // a line end of the header: logical() tracks the fields
        } else if (*p == '\n' || (p + 1 < end && p[1] != '\n')) {
            out_ += "\r\n";  // a bare LF, or a bare CR
            ++p;
        } else if (p + 1 < end) {
            out_ += "\r\n";  // CRLF
            p += 2;
        } else {
            pending_cr_ = true;  // a CR at the end of the chunk: the next byte decides
            ++p;
        }
        if (out_.size() >= kGuardChunk) drain();
    }
    if (out_.size() >= kGuardChunk) drain();
}

void DataGuardBuf::raw(char c) {
    if (pending_cr_) {
        pending_cr_ = false;
        logical('\n');
        if (c == '\n') return;  // CRLF: already sent
    }
    if (c == '\r') {
        pending_cr_ = true;  // CRLF or a bare CR: decided by the next byte
        return;
    }
    logical(c);  // a '\n' here is a bare LF
}

void DataGuardBuf::logical(char c) {
    if (!in_header_) return emit(c);
    if (reading_name_) {
        if (c != ':' && c != '\n' && name_.size() < 998) {
            name_ += c;
            return;
        }
        end_name();
    } else if (line_start_) {
        if (c == '\n') {
            in_header_ = false;  // the empty line: the body follows untouched
            return emit(c);
        }
        if (!is_wsp(c)) {  // a new field; a folded line continues the last one
            reading_name_ = true;
            line_start_ = false;
            name_ = c;
            return;
        }
    }
    line_start_ = c == '\n';
    if (!dropping_) emit(c);
}

void DataGuardBuf::end_name() {
    reading_name_ = false;
    const std::string_view name = trim(name_);
    dropping_ = equals_nocase(name, "bcc") || equals_nocase(name, "resent-bcc");
    if (!dropping_) out_ += name_;
    name_.clear();
}

void DataGuardBuf::emit(char c) {
    if (c == '\n') {
        out_ += "\r\n";
    } else {
        out_ += c;
    }
}

void DataGuardBuf::drain() {
    target_.write(out_.data(), static_cast<std::streamsize>(out_.size()));
    out_.clear();
}

void DataGuardBuf::finish() {
    sync();
    if (pending_cr_) {
        pending_cr_ = false;
        logical('\n');
    }
    if (reading_name_) end_name();
    drain();
    target_.flush();
}

}  // namespace pocosmtp
