// The reply bounds declared in reply_limit.h.
#include "reply_limit.h"

#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureStreamSocketImpl.h>
#include <Poco/Net/SocketDefs.h>
#include <Poco/Net/StreamSocketImpl.h>

#include <string>

namespace pocosmtp {

using Poco::Net::Context;
using Poco::Net::SecureStreamSocket;
using Poco::Net::StreamSocket;

namespace {

std::string size_text(std::size_t bytes) {
    if (bytes % (std::size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    return std::to_string(bytes) + " bytes";
}

}  // namespace

void ReplyLimit::setReplyLimit(std::size_t limit) noexcept {
    limit_.store(limit, std::memory_order_relaxed);
}

void ReplyLimit::sent() noexcept {
    bytes_.store(0, std::memory_order_relaxed);
    ends_.store(0, std::memory_order_relaxed);
}

void ReplyLimit::received(int n, int flags) {
    const std::size_t limit = limit_.load(std::memory_order_relaxed);
    if (limit == 0 || (flags & MSG_PEEK) != 0) return;
    if (n > 0) {
        const std::size_t total =
            bytes_.fetch_add(static_cast<std::size_t>(n), std::memory_order_relaxed) +
            static_cast<std::size_t>(n);
        if (total > limit) {
            throw Poco::Net::MessageException("the server's reply exceeds " + size_text(limit));
        }
    } else if (n == 0 && ends_.fetch_add(1, std::memory_order_relaxed) > 0) {
        throw Poco::Net::ConnectionAbortedException(
            "the server closed the connection in the middle of a reply");
    }
}

namespace {

using LimitedStreamImpl = ReplyLimited<Poco::Net::StreamSocketImpl>;

// connectSSL() and acceptSSL() are protected in Poco; attach() needs them.
class LimitedSecureImpl final : public ReplyLimited<Poco::Net::SecureStreamSocketImpl> {
public:
    using ReplyLimited::ReplyLimited;

    void handshake() {
        if (context()->isForServerUse()) {
            acceptSSL();
        } else {
            connectSSL();
        }
    }
};

}  // namespace

// StreamSocket(SocketImpl*) takes over the new implementation's only reference.
StreamSocket limited_stream_socket() { return StreamSocket(new LimitedStreamImpl()); }

StreamSocket limited_stream_socket(Poco::Net::SocketAddress::Family family) {
    return StreamSocket(new LimitedStreamImpl(family));
}

// SecureStreamSocket(SocketImpl*) is protected; the public one taking a
// Socket accepts any SecureStreamSocketImpl, a subclass included.
SecureStreamSocket limited_secure_socket(Context::Ptr context) {
    return SecureStreamSocket(StreamSocket(new LimitedSecureImpl(context)));
}

SecureStreamSocket attach_limited(const StreamSocket& socket, const std::string& peerHostName,
                                  Context::Ptr context) {
    auto* impl =
        new LimitedSecureImpl(static_cast<Poco::Net::StreamSocketImpl*>(socket.impl()), context);
    SecureStreamSocket result(StreamSocket{impl});
    result.setPeerHostName(peerHostName);
    impl->handshake();
    return result;
}

void limit_replies(Poco::Net::Socket& socket) noexcept {
    if (auto* limited = dynamic_cast<ReplyLimit*>(socket.impl())) {
        limited->setReplyLimit(kReplyLimit);
    }
}

}  // namespace pocosmtp
