// The binding's security guards against classic SMTP client flaws that Poco
// 1.14.2 itself lets through (docs/deviations.md, rows 18 to 22). Each is a
// deliberate deviation from C++ Poco:
//
//  - command injection: CR or LF inside an envelope address, a command, an
//    AUTH user name or an EHLO host name would start a second SMTP command;
//  - header injection: CR or LF inside a header value, a display name, a
//    media type or a file name would start a second header field;
//  - SMTP smuggling: a bare CR or LF in message data can end DATA early at a
//    lenient server, so message data is sent with every line end as CRLF;
//  - Bcc: a Bcc field in the header would tell every recipient who else got
//    the message, so it is dropped from what is transmitted;
//  - envelope sender: Poco cuts MAIL FROM out of the From field at its first
//    '<', which a quoted display name or trailing text corrupts.
//
// Errors are Poco::InvalidArgumentException (a ValueError in Python), thrown
// before a single byte reaches the wire. They name the place, not the value:
// a value may be a credential.
#pragma once

#include <Poco/Net/MailMessage.h>

#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

namespace pocosmtp {

// Throws unless value is free of CR and LF; what names it in the error
// ("the recipient address").
void require_single_line(const std::string& value, const char* what);

// Throws unless every CR or LF in value is RFC 5322 folding (CRLF, white
// space, then more than white space), as in encodeWord()'s output: for
// values that end up inside a header field.
void require_header_text(const std::string& value, const char* what);

// Throws unless name is an RFC 5322 field name: one or more printable ASCII
// characters other than ':'.
void require_field_name(const std::string& name);

// Both checks (name, then value as require_header_text), for one header
// field a user sets.
void require_header_field(const std::string& name, const std::string& value);

// Checks everything MailMessage::write() turns into header lines: the
// message's fields, recipients and content type, and each part's name, file
// name, media type and fields. For fields that reached the message some
// other way than a guarded setter (read(), autoDecode, C++ code).
void require_clean_message(const Poco::Net::MailMessage& message);

// The address for MAIL FROM in the From field value from: the one angle
// address of "Name <addr>" (quotes and comments in the name respected), or
// the whole value without comments. Throws when there is no single address.
std::string envelope_sender(const std::string& from);

// Message data on its way to Poco's MailOutputStream: every line end (CRLF,
// bare CR, bare LF) leaves as CRLF, so the only end of data the server can
// see is the one Poco writes, and Bcc / Resent-Bcc fields of the top-level
// header are dropped. Call finish() after the last byte.
//
// It sits on the send path of every message, so it buffers: writes land in
// a put area, and the body (everything after the header) is copied in runs
// between line ends rather than byte by byte.
class DataGuardBuf : public std::streambuf {
public:
    explicit DataGuardBuf(std::ostream& target);
    void finish();

protected:
    int_type overflow(int_type ch) override;
    int sync() override;

private:
    void process(const char* begin, const char* end);
    void raw(char c);
    void logical(char c);  // '\n' stands for one line end
    void end_name();       // a field name is complete: keep it, or drop its field
    void emit(char c);
    void drain();

    std::ostream& target_;
    std::unique_ptr<char[]> in_;  // the put area, left uninitialised
    std::string out_;             // guarded bytes not yet written to target_
    std::string name_;            // a header field name being read
    bool pending_cr_ = false;
    bool in_header_ = true;
    bool line_start_ = true;
    bool reading_name_ = false;
    bool dropping_ = false;  // inside a Bcc field
};

class DataGuardStream : public std::ostream {
public:
    explicit DataGuardStream(std::ostream& target) : std::ostream(nullptr), buf_(target) {
        rdbuf(&buf_);
    }
    void finish() { buf_.finish(); }

private:
    DataGuardBuf buf_;
};

}  // namespace pocosmtp
