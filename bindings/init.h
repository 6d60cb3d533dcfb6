// One init function per wrapped Poco area; module.cpp calls them in order.
#pragma once

#include <pybind11/pybind11.h>

namespace pocosmtp {

void init_errors(pybind11::module_& m);  // errors.cpp: Poco exceptions
// init_streams (streams.cpp, declared in pystreams.h): Python views of C++ streams
void init_socket(pybind11::module_& m);  // socket.cpp: SocketAddress, StreamSocket
void init_header(
    pybind11::module_& m);              // header.cpp: NameValueCollection, MessageHeader, MediaType
void init_parts(pybind11::module_& m);  // parts.cpp: PartSource family, PartHandler
void init_message(pybind11::module_& m);  // message.cpp: MailRecipient, MailMessage
void init_session(pybind11::module_& m);  // session.cpp: SMTPClientSession
void init_tls(
    pybind11::module_& m);  // tls.cpp: Context, SecureStreamSocket, SecureSMTPClientSession

}  // namespace pocosmtp
