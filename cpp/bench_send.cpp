// bench_send: the C++ rows of the benchmark suite (bench/run.py). It sends
// with Poco exactly as a C++ service would, so that pocosmtp's rows can be
// compared with the same library called without Python in between.
//
//     bench_send --port PORT --mode MODE [options]
//
// Modes (the workloads are the ones bench/rows.py runs through pocosmtp):
//   reuse        one session, COUNT messages of 1 KB, each a new MailMessage
//   new-session  COUNT times: connect, login, send one message, QUIT
//   threads      THREADS sessions in parallel, COUNT messages between them
//   build        COUNT times: compose a message with a 1 MiB attachment and
//                write it into memory (no network)
//   file         one message whose attachment is FILE (FilePartSource)
//   dump         write one 1 KB message to stdout and exit (smtp-source -F)
//
// Options: --host H (127.0.0.1), --count N (1000), --threads T (8),
// --warmup W (20, untimed messages per session before the clock starts),
// --no-nodelay (keep Poco's default socket options: Nagle stays on),
// --file PATH.
//
// Output: one JSON object on stdout. "seconds" and "cpu_seconds" (user +
// system of this process, all threads) cover only the timed loop, so the
// process start and the warm-up are not counted; "baseline_rss_kb" and
// "peak_rss_kb" are the peak resident set before and after it. Exit status
// 1 on a Poco error, 2 on bad arguments.
#include <Poco/CountingStream.h>
#include <Poco/Exception.h>
#include <Poco/Net/FilePartSource.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StringPartSource.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Poco::Net::MailMessage;
using Poco::Net::MailRecipient;
using Poco::Net::SMTPClientSession;

namespace {

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string mode;
    long count = 1000;
    int threads = 8;
    long warmup = 20;
    bool nodelay = true;
    std::string file;
};

struct BadArguments : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------- workload

// bench/rows.py builds the same text: 16 lines of 62 characters, 1 KiB
// with the line ends.
std::string text_body() {
    static const std::string line =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n";
    std::string body;
    for (int i = 0; i < 16; ++i) body += line;
    return body;
}

// Every byte value, repeated: the encoder's cost does not depend on content.
std::string attachment_data() {
    std::string data(1 << 20, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i & 0xff);
    return data;
}

void address(MailMessage& message) {
    message.setSender("Bench <bench@example.org>");
    message.addRecipient(MailRecipient(MailRecipient::PRIMARY_RECIPIENT, "sink@example.org"));
    message.setSubject("bench message");
}

// Composed afresh for every send: building the message is part of the cost.
void compose_text(MailMessage& message, const std::string& body) {
    address(message);
    message.setContent(body, MailMessage::ENCODING_7BIT);
}

// ---------------------------------------------------------------- sessions

// What a C++ service does to get TCP_NODELAY: connect the socket itself and
// hand it to the session (Poco's socket() accessor is protected).
std::unique_ptr<SMTPClientSession> open_session(const Options& options) {
    std::unique_ptr<SMTPClientSession> session;
    if (options.nodelay) {
        Poco::Net::StreamSocket socket;
        socket.connect(Poco::Net::SocketAddress(options.host, options.port));
        socket.setNoDelay(true);
        session = std::make_unique<SMTPClientSession>(socket);
    } else {
        session = std::make_unique<SMTPClientSession>(options.host,
                                                      static_cast<Poco::UInt16>(options.port));
    }
    session->login();
    return session;
}

void send_text(SMTPClientSession& session, const std::string& body) {
    MailMessage message;
    compose_text(message, body);
    session.sendMessage(message);
}

// ---------------------------------------------------------------- measuring

double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so
// a child started by the Python runner would report the runner's peak.
long peak_rss_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

struct Result {
    long messages = 0;
    double seconds = 0;
    double cpu_seconds = 0;
    std::size_t message_bytes = 0;
    long baseline_rss_kb = 0;
    long peak_rss_kb = 0;
};

// Times body() by wall clock and by this process's CPU time.
template <class Body>
Result measure(long messages, Body&& body) {
    Result result;
    result.messages = messages;
    result.baseline_rss_kb = peak_rss_kb();
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    body();
    const auto t1 = std::chrono::steady_clock::now();
    result.cpu_seconds = cpu_seconds() - cpu0;
    result.seconds = std::chrono::duration<double>(t1 - t0).count();
    result.peak_rss_kb = peak_rss_kb();
    return result;
}

std::size_t written_size(const MailMessage& message) {
    Poco::CountingOutputStream counter;
    message.write(counter);
    return static_cast<std::size_t>(counter.chars());
}

std::size_t text_message_size(const std::string& body) {
    MailMessage message;
    compose_text(message, body);
    return written_size(message);
}

// ---------------------------------------------------------------- modes

Result run_reuse(const Options& options) {
    const std::string body = text_body();
    auto session = open_session(options);
    for (long i = 0; i < options.warmup; ++i) send_text(*session, body);
    Result result = measure(options.count, [&] {
        for (long i = 0; i < options.count; ++i) send_text(*session, body);
    });
    session->close();
    result.message_bytes = text_message_size(body);
    return result;
}

Result run_new_session(const Options& options) {
    const std::string body = text_body();
    auto once = [&] {
        auto session = open_session(options);
        send_text(*session, body);
        session->close();
    };
    for (long i = 0; i < options.warmup; ++i) once();
    Result result = measure(options.count, [&] {
        for (long i = 0; i < options.count; ++i) once();
    });
    result.message_bytes = text_message_size(body);
    return result;
}

// Each thread logs in and warms up before the clock starts, so the timed
// window holds sending only.
Result run_threads(const Options& options) {
    const std::string body = text_body();
    const int n = options.threads;
    std::mutex mutex;
    std::condition_variable changed;
    int ready = 0;
    bool go = false;
    std::vector<std::exception_ptr> errors(n);
    std::vector<std::thread> threads;

    auto worker = [&](int index, long share) {
        std::unique_ptr<SMTPClientSession> session;
        try {
            session = open_session(options);
            for (long i = 0; i < options.warmup; ++i) send_text(*session, body);
        } catch (...) {
            errors[index] = std::current_exception();
        }
        {
            std::unique_lock<std::mutex> lock(mutex);
            ++ready;
            changed.notify_all();
            changed.wait(lock, [&] { return go; });
        }
        if (errors[index]) return;
        try {
            for (long i = 0; i < share; ++i) send_text(*session, body);
            session->close();
        } catch (...) {
            errors[index] = std::current_exception();
        }
    };

    for (int t = 0; t < n; ++t) {
        threads.emplace_back(worker, t, options.count / n + (t < options.count % n ? 1 : 0));
    }
    {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return ready == n; });
    }
    Result result = measure(options.count, [&] {
        {
            std::lock_guard<std::mutex> lock(mutex);
            go = true;
        }
        changed.notify_all();
        for (auto& thread : threads) thread.join();
    });
    for (const auto& error : errors) {
        if (error) std::rethrow_exception(error);
    }
    result.message_bytes = text_message_size(body);
    return result;
}

Result run_build(const Options& options) {
    const std::string body = text_body();
    const std::string data = attachment_data();
    std::size_t size = 0;
    auto once = [&] {
        MailMessage message;
        address(message);
        message.addContent(new Poco::Net::StringPartSource(body));
        message.addAttachment("data.bin",
                              new Poco::Net::StringPartSource(data, "application/octet-stream"));
        std::ostringstream out;
        message.write(out);
        size = out.str().size();
    };
    for (long i = 0; i < options.warmup; ++i) once();
    Result result = measure(options.count, [&] {
        for (long i = 0; i < options.count; ++i) once();
    });
    result.message_bytes = size;
    return result;
}

Result run_file(const Options& options) {
    if (options.file.empty()) throw BadArguments("--mode file needs --file PATH");
    const std::string body = text_body();
    auto session = open_session(options);
    Result result = measure(1, [&] {
        MailMessage message;
        address(message);
        message.addContent(new Poco::Net::StringPartSource(body));
        message.addAttachment("data.bin", new Poco::Net::FilePartSource(options.file));
        session->sendMessage(message);
    });
    session->close();
    // Measured again rather than counted while sending: FilePartSource reads
    // its file once, so the sent message cannot be written a second time.
    MailMessage message;
    address(message);
    message.addContent(new Poco::Net::StringPartSource(body));
    message.addAttachment("data.bin", new Poco::Net::FilePartSource(options.file));
    result.message_bytes = written_size(message);
    return result;
}

// ---------------------------------------------------------------- command line

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw BadArguments(arg + " needs a value");
            return argv[++i];
        };
        auto number = [&]() -> long {
            const std::string text = value();
            char* end = nullptr;
            const long n = std::strtol(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || n < 0) {
                throw BadArguments(arg + " needs a non-negative integer, got " + text);
            }
            return n;
        };
        if (arg == "--host") {
            options.host = value();
        } else if (arg == "--port") {
            options.port = static_cast<int>(number());
        } else if (arg == "--mode") {
            options.mode = value();
        } else if (arg == "--count") {
            options.count = number();
        } else if (arg == "--threads") {
            options.threads = static_cast<int>(number());
        } else if (arg == "--warmup") {
            options.warmup = number();
        } else if (arg == "--no-nodelay") {
            options.nodelay = false;
        } else if (arg == "--file") {
            options.file = value();
        } else {
            throw BadArguments("unknown argument " + arg);
        }
    }
    if (options.mode.empty()) throw BadArguments("--mode is required");
    if (options.threads < 1) throw BadArguments("--threads must be at least 1");
    return options;
}

void print(const Options& options, const Result& result) {
    std::printf(
        "{\"mode\": \"%s\", \"threads\": %d, \"nodelay\": %s, \"messages\": %ld, "
        "\"seconds\": %.6f, \"cpu_seconds\": %.6f, \"message_bytes\": %zu, "
        "\"baseline_rss_kb\": %ld, \"peak_rss_kb\": %ld}\n",
        options.mode.c_str(), options.mode == "threads" ? options.threads : 1,
        options.nodelay ? "true" : "false", result.messages, result.seconds, result.cpu_seconds,
        result.message_bytes, result.baseline_rss_kb, result.peak_rss_kb);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options options = parse(argc, argv);
        if (options.mode == "dump") {
            MailMessage message;
            compose_text(message, text_body());
            message.write(std::cout);
            return 0;
        }
        if (options.mode != "build" && options.port == 0) throw BadArguments("--port is required");
        Result result;
        if (options.mode == "reuse") {
            result = run_reuse(options);
        } else if (options.mode == "new-session") {
            result = run_new_session(options);
        } else if (options.mode == "threads") {
            result = run_threads(options);
        } else if (options.mode == "build") {
            result = run_build(options);
        } else if (options.mode == "file") {
            result = run_file(options);
        } else {
            throw BadArguments("unknown mode " + options.mode);
        }
        print(options, result);
        return 0;
    } catch (const BadArguments& e) {
        std::fprintf(stderr, "bench_send: %s\n", e.what());
        return 2;
    } catch (const Poco::Exception& e) {
        std::fprintf(stderr, "bench_send: %s\n", e.displayText().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_send: %s\n", e.what());
        return 1;
    }
}
