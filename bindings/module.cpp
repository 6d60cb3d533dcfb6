// The extension's table of contents: each area registers itself, bases
// before the classes that derive from them.
#include "init.h"
#include "pystreams.h"

PYBIND11_MODULE(_pocosmtp, m) {
    m.doc() = "Poco's SMTP client (Poco 1.14.2), bound one-to-one";
    m.attr("__version__") = POCOSMTP_VERSION;
    m.attr("POCO_VERSION") = "1.14.2";

    pocosmtp::init_errors(m);
    pocosmtp::init_streams(m);
    pocosmtp::init_socket(m);
    pocosmtp::init_header(m);
    pocosmtp::init_parts(m);
    pocosmtp::init_message(m);
    pocosmtp::init_session(m);
    pocosmtp::init_tls(m);
}
