//
// utpcat.cpp — netcat over µTP: stdin goes to the connection, the connection to stdout.
//
//   utpcat [-4|-6] [-v] [--progress] host port     connect to host:port
//   utpcat -l [-4|-6] [-v] [--progress] [host] port
//                                                 listen on host:port (default 0.0.0.0,
//                                                 or :: with -6), accept one connection;
//                                                 port 0 picks a free port
//
// When listening it prints "listening on ADDR:PORT" to stderr. At EOF on stdin it shuts
// down its sending side (the peer reads EOF) and keeps receiving; it exits once the
// peer's EOF has been written to stdout and its own side is done. `--progress` draws a
// progress bar (bytes and rate) on stderr about four times a second; `-v` reports the
// peer and the connection's statistics. `--cc ledbat|ledbat++|newreno` picks the
// congestion controller of what this side sends; `--trace FILE` writes the connection's
// sending state to FILE every 10 ms (plot it with tools/plot_trace.py).
//
// Copy a file over loopback:
//
//   ./utpcat -l 127.0.0.1 9000 > copy.bin &
//   ./utpcat --progress 127.0.0.1 9000 < file.bin
//
// Exit status: 0 done, 1 network or I/O error (refused, reset, timed out, ...),
// 2 bad usage, 130 / 143 interrupted by SIGINT / SIGTERM.
//
#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using udp = asio::ip::udp;
using steady = std::chrono::steady_clock;

namespace {

struct options {
    bool listen = false;
    int family = 0; // 0 any, 4, 6
    bool progress = false;
    bool verbose = false;
    std::string host;
    std::string port;
    std::optional<utp::proto::congestion_algorithm> cc;
    std::string trace; // file name, or empty
};

struct counters {
    std::uint64_t sent = 0;     // bytes handed to the socket
    std::uint64_t received = 0; // bytes written to stdout
    std::uint64_t total = 0;    // size of stdin if it is a regular file, else 0
};

/// An error with what was being done: "connect to host port 9: Connection refused".
struct failure : std::runtime_error {
    error_code code;
    failure(error_code ec, const std::string& what)
        : std::runtime_error(what + ": " + ec.message()), code(ec) {}
};

[[noreturn]] void usage(int status) {
    (status == 0 ? std::cout : std::cerr)
        << "usage: utpcat [-4|-6] [-v] [--progress] [--cc NAME] [--trace FILE] host port\n"
           "       utpcat -l [-4|-6] [-v] [--progress] [--cc NAME] [--trace FILE] [host] port\n"
           "netcat over uTP: stdin -> connection, connection -> stdout.\n"
           "  -l          listen and accept one connection (port 0: any free port)\n"
           "  -4, -6      IPv4 / IPv6 only\n"
           "  -v          report the peer and connection statistics on stderr\n"
           "  --progress  progress bar with bytes and rate on stderr\n"
           "  --cc NAME   congestion control of what this side sends: ledbat (default),\n"
           "              ledbat++ (fair among uTP flows) or newreno (does not yield to TCP)\n"
           "  --trace FILE  the connection's sending state every 10 ms, as text lines\n"
           "              (python3 tools/plot_trace.py -o FILE.png FILE)\n";
    std::exit(status);
}

/// Restores a descriptor's flags on exit: Asio makes 0 and 1 non-blocking, and a
/// terminal's open file is shared with the shell.
struct fd_flags_guard {
    int fd;
    int flags;
    explicit fd_flags_guard(int f) : fd(f), flags(::fcntl(f, F_GETFL)) {}
    ~fd_flags_guard() {
        if (flags != -1) ::fcntl(fd, F_SETFL, flags);
    }
};

/// stdin. A pipe, terminal or socket is read through a stream_descriptor. A regular file
/// is read by a helper thread: epoll cannot wait on it and a read may block on the disk,
/// which would stall the µTP engine sharing this thread.
class input {
public:
    input(const asio::any_io_executor& ex, counters& c) {
        struct stat st {};
        if (::fstat(0, &st) != 0) return; // stdin closed: empty input
        if (S_ISREG(st.st_mode)) {
            c.total = static_cast<std::uint64_t>(st.st_size);
            pool_.emplace(1);
        } else {
            sd_.emplace(ex, ::dup(0));
        }
        open_ = true;
    }
    ~input() {
        if (pool_) pool_->join();
    }

    /// Read some bytes; 0 at end of input.
    awaitable<std::size_t> read_some(asio::mutable_buffer b) {
        if (!open_) co_return 0;
        if (sd_) {
            auto [ec, n] = co_await sd_->async_read_some(b, asio::as_tuple(use_awaitable));
            if (ec == asio::error::eof) co_return 0;
            if (ec) throw failure(ec, "stdin");
            co_return n;
        }
        co_return co_await asio::co_spawn(
            *pool_,
            [b]() -> awaitable<std::size_t> {
                for (;;) {
                    ssize_t n = ::read(0, b.data(), b.size());
                    if (n >= 0) co_return static_cast<std::size_t>(n);
                    if (errno != EINTR)
                        throw failure(error_code(errno, boost::system::system_category()), "stdin");
                }
            },
            use_awaitable);
    }

private:
    bool open_ = false;
    std::optional<asio::posix::stream_descriptor> sd_;
    std::optional<asio::thread_pool> pool_;
};

std::string human(double bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    char s[32];
    std::snprintf(s, sizeof s, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return s;
}

/// Redraw the progress line: a bar when the size is known, bytes each way and the rate.
void draw(const counters& c, double rate, bool final) {
    static int last = 0; // length of the previous line, to blank its tail
    char line[160];
    int len = 0;
    if (c.total) {
        constexpr int width = 24;
        double f = std::min(1.0, double(c.sent) / double(c.total));
        char bar[width + 1] = {};
        for (int i = 0; i < width; ++i)
            bar[i] = i < int(f * width) ? '=' : ' ';
        if (f < 1) bar[int(f * width)] = '>';
        len = std::snprintf(line, sizeof line, "[%s] %3.0f%%  ", bar, f * 100);
    }
    len += std::snprintf(line + len, sizeof line - len, "sent %s  received %s  %.1f MB/s%s",
                         human(double(c.sent)).c_str(), human(double(c.received)).c_str(),
                         rate / 1e6, final ? " average" : "");
    std::fprintf(stderr, "\r%-*s%s", std::max(len, last), line, final ? "\n" : "");
    last = final ? 0 : len;
}

/// Redraws about four times a second until cancelled; the rate is over the last second.
awaitable<void> show_progress(const counters& c) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::deque<std::pair<steady::time_point, std::uint64_t>> window{{steady::now(), 0}};
    for (;;) {
        timer.expires_after(std::chrono::milliseconds(250));
        co_await timer.async_wait(use_awaitable);
        auto now = steady::now();
        window.emplace_back(now, c.sent + c.received);
        if (window.size() > 5) window.pop_front();
        double dt = std::chrono::duration<double>(now - window.front().first).count();
        draw(c, double(window.back().second - window.front().second) / dt, false);
    }
}

awaitable<void> upload(utp::socket& sock, input& in, counters& c) {
    std::vector<char> buf(256 * 1024);
    while (std::size_t n = co_await in.read_some(asio::buffer(buf))) {
        auto [ec, m] = co_await asio::async_write(sock, asio::buffer(buf.data(), n),
                                                  asio::as_tuple(use_awaitable));
        if (ec) throw failure(ec, "send");
        c.sent += m;
    }
    sock.shutdown(asio::socket_base::shutdown_send); // the peer reads EOF
}

awaitable<void> download(utp::socket& sock, asio::posix::stream_descriptor& out, counters& c) {
    std::vector<char> buf(256 * 1024);
    for (;;) {
        auto [ec, n] =
            co_await sock.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
        if (ec == asio::error::eof) co_return;
        if (ec) throw failure(ec, "receive");
        auto [wec, m] = co_await asio::async_write(out, asio::buffer(buf.data(), n),
                                                   asio::as_tuple(use_awaitable));
        if (wec) throw failure(wec, "stdout");
        c.received += m;
    }
}

/// Both directions; never throws (the error comes back), so it can race the progress bar.
awaitable<std::exception_ptr> transfer(utp::socket& sock, input& in,
                                       asio::posix::stream_descriptor& out, counters& c) {
    try {
        co_await (upload(sock, in, c) && download(sock, out, c));
    } catch (...) {
        co_return std::current_exception();
    }
    co_return nullptr;
}

awaitable<udp::resolver::results_type> resolve(const options& o, bool passive) {
    udp::resolver resolver(co_await asio::this_coro::executor);
    auto flags = passive ? udp::resolver::passive : udp::resolver::flags();
    auto token = asio::as_tuple(use_awaitable);
    std::tuple<error_code, udp::resolver::results_type> result;
    if (o.family == 0)
        result = co_await resolver.async_resolve(o.host, o.port, flags, token);
    else
        result = co_await resolver.async_resolve(o.family == 4 ? udp::v4() : udp::v6(), o.host,
                                                 o.port, flags, token);
    auto& [ec, r] = result;
    if (ec) throw failure(ec, "resolve " + (o.host.empty() ? "port" : o.host) + " " + o.port);
    co_return r;
}

/// The socket options the command line asks for (before connecting, or on an accepted
/// connection: a new controller then starts from slow start).
void configure(utp::socket& sock, const options& o) {
    if (o.cc) sock.set_option(utp::congestion_control(*o.cc));
    if (!o.trace.empty()) {
        auto out = std::make_shared<std::ofstream>(o.trace);
        if (!*out)
            throw failure(error_code(errno, boost::system::generic_category()), "open " + o.trace);
        *out << utp::proto::trace_columns << '\n';
        // Runs on this program's one thread, inside the multiplexer: append and return.
        sock.set_option(utp::trace([out](const utp::proto::trace_record& r) {
            *out << utp::proto::to_string(r) << '\n';
        }));
    }
}

awaitable<utp::socket> accept_one(const options& o) {
    auto ex = co_await asio::this_coro::executor;
    options passive = o; // no host: the wildcard address, IPv4 unless -6
    if (passive.host.empty() && passive.family == 0) passive.family = 4;
    udp::endpoint local = (co_await resolve(passive, true)).begin()->endpoint();
    std::optional<utp::acceptor> acceptor;
    try {
        acceptor.emplace(ex, local, 1);
    } catch (const boost::system::system_error& e) {
        throw failure(e.code(), "listen on " + o.host + " port " + o.port);
    }
    std::ostringstream line; // one write, so a script never sees half of it
    line << "listening on " << acceptor->local_endpoint() << '\n';
    std::cerr << line.str() << std::flush;
    utp::socket sock = co_await acceptor->async_accept(use_awaitable);
    acceptor->close(); // one connection: later SYNs are refused
    configure(sock, o);
    if (o.verbose) std::cerr << "connection from " << sock.remote_endpoint() << std::endl;
    co_return sock;
}

awaitable<utp::socket> connect_any(const options& o) {
    auto ex = co_await asio::this_coro::executor;
    error_code last = asio::error::host_not_found;
    udp::endpoint peer;
    for (const auto& entry : co_await resolve(o, false)) {
        peer = entry.endpoint();
        utp::socket sock(ex); // a private multiplexer on an ephemeral port of peer's family
        configure(sock, o);
        auto [ec] = co_await sock.async_connect(peer, asio::as_tuple(use_awaitable));
        if (!ec) {
            if (o.verbose) std::cerr << "connected to " << peer << std::endl;
            co_return sock;
        }
        last = ec;
        if (ec == asio::error::operation_aborted) break;
    }
    throw failure(last, "connect to " + o.host + " port " + o.port);
}

/// The whole session; returns the exit status (errors are reported here).
awaitable<int> run(const options& o) {
    auto ex = co_await asio::this_coro::executor;
    utp::socket sock(ex);
    try {
        if (o.listen) // (not `?:`: g++ 12 mishandles co_await in a conditional operator)
            sock = co_await accept_one(o);
        else
            sock = co_await connect_any(o);
        counters c;
        input in(ex, c);
        // stdout: also a stream_descriptor, even for a regular file (Asio writes to it
        // directly: such a write never returns EAGAIN, so it never waits on epoll).
        asio::posix::stream_descriptor out(ex, ::dup(1));
        auto start = steady::now();
        std::exception_ptr error;
        if (o.progress) {
            auto r = co_await (transfer(sock, in, out, c) || show_progress(c));
            error = std::get<0>(r);
            double dt = std::chrono::duration<double>(steady::now() - start).count();
            draw(c, double(c.sent + c.received) / dt, true);
        } else {
            error = co_await transfer(sock, in, out, c);
        }
        if (error) std::rethrow_exception(error);
        if (o.verbose) {
            auto s = sock.stats();
            std::cerr << "sent " << c.sent << " B, received " << c.received << " B in "
                      << std::chrono::duration<double>(steady::now() - start).count() << " s; rtt "
                      << s.rtt.count() << " us, retransmits " << s.retransmits << ", timeouts "
                      << s.timeouts << std::endl;
        }
        sock.close(); // graceful: run() returns once the FIN exchange is over
        co_return 0;
    } catch (const failure& e) {
        sock.abort(); // tell the peer at once (RESET) rather than linger
        if (e.code == asio::error::operation_aborted) co_return 1; // interrupted
        std::cerr << "utpcat: " << e.what() << std::endl;
    } catch (const boost::system::system_error& e) {
        sock.abort();
        if (e.code() == asio::error::operation_aborted) co_return 1;
        std::cerr << "utpcat: " << e.code().message() << std::endl;
    } catch (const std::exception& e) {
        sock.abort();
        std::cerr << "utpcat: " << e.what() << std::endl;
    }
    co_return 1;
}

awaitable<int> wait_for_signal() {
    asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
    int sig = co_await signals.async_wait(use_awaitable);
    co_return 128 + sig;
}

options parse(int argc, char** argv) {
    options o;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-l")
            o.listen = true;
        else if (a == "-4")
            o.family = 4;
        else if (a == "-6")
            o.family = 6;
        else if (a == "-v")
            o.verbose = true;
        else if (a == "--progress")
            o.progress = true;
        else if (a == "--cc" && i + 1 < argc) {
            const std::string name = argv[++i];
            using utp::proto::congestion_algorithm;
            if (name == "ledbat")
                o.cc = congestion_algorithm::ledbat;
            else if (name == "ledbat++")
                o.cc = congestion_algorithm::ledbat_plus_plus;
            else if (name == "newreno")
                o.cc = congestion_algorithm::newreno;
            else
                usage(2);
        } else if (a == "--trace" && i + 1 < argc)
            o.trace = argv[++i];
        else if (a == "-h" || a == "--help")
            usage(0);
        else if (a.size() > 1 && a[0] == '-')
            usage(2);
        else
            args.push_back(a);
    }
    const std::string& port = args.empty() ? "" : args.back();
    if (!port.empty() && port.find_first_not_of("0123456789") == std::string::npos &&
        (port.size() > 5 || std::stoul(port) > 65535)) {
        std::cerr << "utpcat: bad port " << port << "\n";
        std::exit(2);
    }
    if (args.size() == 2) {
        o.host = args[0];
        o.port = args[1];
    } else if (args.size() == 1 && o.listen) {
        o.port = args[0];
    } else {
        usage(2);
    }
    return o;
}

} // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    std::signal(SIGPIPE, SIG_IGN); // a closed stdout is an error to report, not a kill
    fd_flags_guard in_flags(0), out_flags(1);
    asio::io_context ioc;
    int status = 1;
    asio::co_spawn(ioc, run(o) || wait_for_signal(),
                   [&](std::exception_ptr e, std::variant<int, int> r) {
                       if (e) return;
                       status = std::visit([](int s) { return s; }, r);
                       if (r.index() == 1) std::cerr << "\nutpcat: interrupted" << std::endl;
                   });
    ioc.run();
    return status;
}
