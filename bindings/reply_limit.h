// Bounds on reading one SMTP reply (deviation 10 in session.cpp).
//
// Poco's DialogSocket::receiveStatusMessage() has two flaws a hostile or
// broken server can trigger: it appends the lines of a multi-line reply to
// one string with no bound on their number, and after a "250-" line an end
// of stream reads as one more line of status 0, so a reply cut by a close
// loops forever (each turn a recv() that returns 0). DialogSocket offers no
// hook of its own; its only way to the network is the socket's
// implementation, which it calls through StreamSocket::receiveBytes() and
// sendBytes(). ReplyLimited<Impl> is that implementation with a counter:
//
//   - every send starts a new reply: the counters go back to zero;
//   - more than the limit in bytes received since the last send raises
//     MessageException;
//   - a second end of stream since the last send raises
//     ConnectionAbortedException. The first one is left alone: Poco reads it
//     as an empty reply with status 0, which its callers turn into the
//     SMTPException of the step that was waiting, and the tests pin that.
//
// The limit is 0 (off) until limit_replies() turns it on, which adopt_session()
// and STARTTLS do: a StreamSocket a Python user reads in bulk is unaffected
// until a session takes it. Sockets the binding builds (socket.cpp, tls.cpp,
// connect_socket()) all use these implementations; a socket whose
// implementation is Poco's own cannot be limited and simply is not.
//
// The counters are atomics because a Python user may share a session's
// socket with another thread. Everything here runs with the GIL released and
// never touches Python.
#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/Socket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <utility>

namespace pocosmtp {

// A real EHLO reply is under 2 KB; 1 MiB leaves room for any sane server and
// bounds what a hostile one can make the client hold.
inline constexpr std::size_t kReplyLimit = std::size_t{1} << 20;

// The part of ReplyLimited that does not depend on the implementation, so a
// session can reach it with one dynamic_cast whatever the socket's type.
class ReplyLimit {
public:
    // 0 turns both checks off.
    void setReplyLimit(std::size_t limit) noexcept;

protected:
    ReplyLimit() = default;
    ~ReplyLimit() = default;

    void sent() noexcept;
    // Throws when the bytes since the last send, or the ends of stream,
    // break the limit. Peeked bytes are still to come, so they do not count.
    void received(int n, int flags);

private:
    std::atomic<std::size_t> limit_{0};
    std::atomic<std::size_t> bytes_{0};
    std::atomic<int> ends_{0};
};

template <class Impl>
class ReplyLimited : public Impl, public ReplyLimit {
public:
    template <class... Args>
    explicit ReplyLimited(Args&&... args) : Impl(std::forward<Args>(args)...) {}

    // The other overloads stay Poco's; DialogSocket uses only these two.
    using Impl::receiveBytes;
    using Impl::sendBytes;

    int sendBytes(const void* buffer, int length, int flags = 0) override {
        sent();
        return Impl::sendBytes(buffer, length, flags);
    }

    int receiveBytes(void* buffer, int length, int flags = 0) override {
        const int n = Impl::receiveBytes(buffer, length, flags);
        received(n, flags);
        return n;
    }

protected:
    // Reference counted, as every SocketImpl: only release() deletes.
    ~ReplyLimited() override = default;
};

// StreamSocket() and StreamSocket(family), on a limited implementation.
Poco::Net::StreamSocket limited_stream_socket();
Poco::Net::StreamSocket limited_stream_socket(Poco::Net::SocketAddress::Family family);

// SecureStreamSocket(context), on a limited implementation.
Poco::Net::SecureStreamSocket limited_secure_socket(Poco::Net::Context::Ptr context);

// Poco's SecureStreamSocket::attach(socket, peerHostName, context), step for
// step, with a limited implementation for the TLS side.
Poco::Net::SecureStreamSocket attach_limited(const Poco::Net::StreamSocket& socket,
                                             const std::string& peerHostName,
                                             Poco::Net::Context::Ptr context);

// Turns the limit (kReplyLimit) on for the socket's implementation; does
// nothing to an implementation that is not a ReplyLimited one.
void limit_replies(Poco::Net::Socket& socket) noexcept;

}  // namespace pocosmtp
