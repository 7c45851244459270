//
// utp_bench.cpp — µTP (this library) beside kernel TCP (asio::ip::tcp) on loopback, in one
// run of one program, so that both see the same machine at the same time.
//
//   utp-bench [--size MiB] [--pings N] [--conns N] [--parallel N] [--quick] [--unlocked]
//
//   (a) bulk throughput: one connection sends --size MiB (default 1024) to a receiver;
//       MB/s, and CPU seconds per GiB of each side (getrusage RUSAGE_THREAD).
//   (b) latency: 64-byte ping-pong, --pings round trips (default 10 000, after 200 warm-up
//       ones), no_delay on both ends; median and 99th percentile round trip.
//   (c) connection setup: connect + accept + first byte (server to client) + close, for
//       --conns connections (default 2 000), one at a time and --parallel (default 100)
//       at a time; connections per second. µTP clients share one multiplexer (one UDP
//       port), as the protocol intends; TCP clients each take an ephemeral port.
//
// Each measurement runs its two sides on two threads of this process, each thread with
// its own io_context (and, for µTP, its own multiplexer): the sender / client on the
// main thread, the receiver / echo server / acceptor on a second one. `--quick` is a
// short run (128 MiB, 1 000 pings, 200 connections). This is a program that prints
// figures, not a test: it fails only if a transfer goes wrong or hangs.
//
#include <utp.hpp>

#include <boost/asio.hpp>

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

// Every heap allocation in the process, to show the per-datagram steady state.
std::atomic<std::uint64_t> g_allocations{0};

const auto loopback = asio::ip::address_v4::loopback();

// -- the two transports, behind the same few names -----------------------------------------

struct utp_transport {
    static constexpr const char* name = "uTP";
    using socket = utp::socket;
    using acceptor = utp::acceptor;
    static acceptor listen(asio::io_context& ioc) { return acceptor(ioc, {loopback, 0}, 1024); }
    static void no_delay(socket& s) { s.set_option(utp::no_delay(true)); }
    /// Makes client sockets: they all share one multiplexer, i.e. one UDP port.
    struct dialer {
        utp::multiplexer mux;
        explicit dialer(asio::io_context& ioc) : mux(ioc, asio::ip::udp::endpoint(loopback, 0)) {}
        socket make() { return socket(mux); }
    };
};

struct tcp_transport {
    static constexpr const char* name = "TCP";
    using socket = asio::ip::tcp::socket;
    using acceptor = asio::ip::tcp::acceptor;
    static acceptor listen(asio::io_context& ioc) { return acceptor(ioc, {loopback, 0}); }
    static void no_delay(socket& s) { s.set_option(asio::ip::tcp::no_delay(true)); }
    struct dialer {
        asio::io_context& ioc;
        explicit dialer(asio::io_context& c) : ioc(c) {}
        socket make() { return socket(ioc); }
    };
};

// -- helpers ---------------------------------------------------------------------------------

/// CPU time (user + system) of the calling thread, in seconds.
double thread_cpu() {
    rusage ru{};
    ::getrusage(RUSAGE_THREAD, &ru);
    auto sec = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

/// Given to every io_context: Asio's default, or with --unlocked the promise that each
/// context's I/O objects are used by one thread only (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
/// under which Asio's reactor and the µTP engine take no locks.
int concurrency_hint = BOOST_ASIO_CONCURRENCY_HINT_DEFAULT;

/// Rethrows, on the main thread, what a coroutine on either thread threw.
struct failure_box {
    std::exception_ptr error;
    auto handler() {
        return [this](std::exception_ptr e) {
            if (e && !error) error = e;
        };
    }
    void check() {
        if (error) std::rethrow_exception(std::exchange(error, nullptr));
    }
};

/// Runs `ctx` on a second thread, measuring that thread's CPU time.
class side_thread {
public:
    explicit side_thread(asio::io_context& ctx)
        : thread_([this, &ctx] {
              double c0 = thread_cpu();
              try {
                  ctx.run();
              } catch (...) {
                  error_ = std::current_exception();
              }
              cpu_ = thread_cpu() - c0;
          }) {}
    ~side_thread() {
        if (thread_.joinable()) thread_.join();
    }
    /// Wait for the thread; its CPU seconds.
    double join() {
        thread_.join();
        if (error_) std::rethrow_exception(error_);
        return cpu_;
    }

private:
    double cpu_ = 0;
    std::exception_ptr error_;
    std::thread thread_;
};

/// Aborts the whole program if a measurement hangs (a bug, not a slow machine).
const char* watchdog_phase = "";
void arm_watchdog(const char* phase, unsigned seconds) {
    watchdog_phase = phase;
    std::signal(SIGALRM, [](int) {
        const char msg[] = "\nutp-bench: a measurement did not finish in time (hung?): ";
        (void)!::write(2, msg, sizeof msg - 1);
        (void)!::write(2, watchdog_phase, std::strlen(watchdog_phase));
        (void)!::write(2, "\n", 1);
        ::_exit(3);
    });
    ::alarm(seconds);
}

// -- (a) bulk throughput ---------------------------------------------------------------------

struct throughput_result {
    double mb_per_s = 0;
    double seconds = 0;
    double tx_cpu = 0, rx_cpu = 0; // seconds, whole run of each side
    utp::proto::connection_stats utp_stats{};
    utp::multiplexer_stats tx_mux{}, rx_mux{};
    std::uint64_t allocations = 0; // heap allocations in the process over the whole run
};

template <class T>
throughput_result throughput(std::uint64_t bytes) {
    asio::io_context rx_ctx(concurrency_hint), tx_ctx(concurrency_hint);
    failure_box rx_failed, tx_failed; // one per thread
    auto acceptor = T::listen(rx_ctx);
    const auto server = acceptor.local_endpoint();
    std::uint64_t received = 0;

    asio::co_spawn(
        rx_ctx,
        [&]() -> awaitable<void> {
            auto s = co_await acceptor.async_accept(use_awaitable);
            acceptor.close();
            std::vector<char> buf(256 * 1024);
            for (;;) {
                auto [ec, n] =
                    co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
                if (ec == asio::error::eof) break;
                if (ec) throw boost::system::system_error(ec, "receiver");
                received += n;
            }
            s.close(); // the sender reads EOF: every byte arrived
        },
        rx_failed.handler());
    side_thread receiver(rx_ctx);

    throughput_result r;
    typename T::dialer dialer(tx_ctx);
    asio::co_spawn(
        tx_ctx,
        [&]() -> awaitable<void> {
            std::vector<char> data(1024 * 1024);
            std::mt19937_64 rng(42);
            for (auto& c : data)
                c = static_cast<char>(rng());
            auto s = dialer.make();
            co_await s.async_connect(server, use_awaitable);
            auto t0 = steady::now();
            for (std::uint64_t left = bytes; left;) {
                std::size_t n = std::min<std::uint64_t>(left, data.size());
                co_await asio::async_write(s, asio::buffer(data.data(), n), use_awaitable);
                left -= n;
            }
            s.shutdown(asio::socket_base::shutdown_send);
            char c;
            auto [ec, n] =
                co_await s.async_read_some(asio::buffer(&c, 1), asio::as_tuple(use_awaitable));
            if (ec != asio::error::eof) throw boost::system::system_error(ec, "sender");
            r.seconds = seconds_since(t0);
            if constexpr (std::is_same_v<T, utp_transport>) {
                r.utp_stats = s.stats();
                r.tx_mux = dialer.mux.stats();
            }
        },
        tx_failed.handler());
    const std::uint64_t a0 = g_allocations.load();
    double c0 = thread_cpu();
    tx_ctx.run();
    r.tx_cpu = thread_cpu() - c0;
    if (tx_failed.error) rx_ctx.stop(); // the receiver would wait for ever
    r.rx_cpu = receiver.join();
    r.allocations = g_allocations.load() - a0;
    rx_failed.check();
    tx_failed.check();
    if constexpr (std::is_same_v<T, utp_transport>) r.rx_mux = acceptor.get_multiplexer().stats();
    if (received != bytes)
        throw std::runtime_error(std::string(T::name) + ": received " + std::to_string(received) +
                                 " of " + std::to_string(bytes) + " bytes");
    r.mb_per_s = double(bytes) / r.seconds / 1e6;
    return r;
}

// -- (b) ping-pong latency -------------------------------------------------------------------

struct latency_result {
    double median_us = 0, p99_us = 0, min_us = 0;
};

template <class T>
latency_result ping_pong(int pings, int warmup) {
    constexpr std::size_t size = 64;
    asio::io_context rx_ctx(concurrency_hint), tx_ctx(concurrency_hint);
    failure_box rx_failed, tx_failed; // one per thread
    auto acceptor = T::listen(rx_ctx);
    const auto server = acceptor.local_endpoint();

    asio::co_spawn(
        rx_ctx,
        [&]() -> awaitable<void> {
            auto s = co_await acceptor.async_accept(use_awaitable);
            acceptor.close();
            T::no_delay(s);
            char buf[size];
            for (;;) {
                auto [ec, n] =
                    co_await asio::async_read(s, asio::buffer(buf), asio::as_tuple(use_awaitable));
                if (ec == asio::error::eof) break;
                if (ec) throw boost::system::system_error(ec, "echo");
                co_await asio::async_write(s, asio::buffer(buf), use_awaitable);
            }
            s.close();
        },
        rx_failed.handler());
    side_thread echo(rx_ctx);

    std::vector<double> rtt;
    typename T::dialer dialer(tx_ctx);
    asio::co_spawn(
        tx_ctx,
        [&]() -> awaitable<void> {
            auto s = dialer.make();
            co_await s.async_connect(server, use_awaitable);
            T::no_delay(s); // (a TCP socket is open only once connecting)
            char out[size] = {}, in[size];
            for (int i = 0; i < warmup + pings; ++i) {
                auto t0 = steady::now();
                co_await asio::async_write(s, asio::buffer(out), use_awaitable);
                co_await asio::async_read(s, asio::buffer(in), use_awaitable);
                if (i >= warmup) rtt.push_back(seconds_since(t0) * 1e6);
            }
            s.shutdown(asio::socket_base::shutdown_send);
            co_await s.async_read_some(asio::buffer(in), asio::as_tuple(use_awaitable)); // EOF
        },
        tx_failed.handler());
    tx_ctx.run();
    if (tx_failed.error) rx_ctx.stop();
    echo.join();
    rx_failed.check();
    tx_failed.check();

    std::sort(rtt.begin(), rtt.end());
    auto at = [&](double q) { return rtt[std::min(rtt.size() - 1, std::size_t(q * rtt.size()))]; };
    return {at(0.5), at(0.99), rtt.front()};
}

// -- (c) connection setup --------------------------------------------------------------------

struct setup_result {
    double per_second = 0;
    int errors = 0;
    std::string first_error;
};

template <class T>
setup_result setup_rate(int connections, int parallel) {
    asio::io_context rx_ctx(concurrency_hint), tx_ctx(concurrency_hint);
    failure_box rx_failed, tx_failed; // one per thread
    auto acceptor = T::listen(rx_ctx);
    const auto server = acceptor.local_endpoint();

    // Server: accept for ever (until the acceptor closes); each connection gets one byte.
    asio::co_spawn(
        rx_ctx,
        [&]() -> awaitable<void> {
            for (;;) {
                auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
                if (ec == asio::error::operation_aborted) co_return;
                if (ec) throw boost::system::system_error(ec, "accept");
                asio::co_spawn(
                    rx_ctx,
                    [s = std::move(s)]() mutable -> awaitable<void> {
                        char hello = 'h';
                        co_await asio::async_write(s, asio::buffer(&hello, 1),
                                                   asio::as_tuple(use_awaitable));
                        s.close();
                    },
                    asio::detached);
            }
        },
        rx_failed.handler());
    side_thread server_thread(rx_ctx);

    setup_result r;
    int started = 0, finished = 0;
    steady::time_point t0, t1;
    typename T::dialer dialer(tx_ctx);
    auto client = [&]() -> awaitable<void> {
        while (started < connections) {
            ++started;
            auto s = dialer.make();
            auto [ec] = co_await s.async_connect(server, asio::as_tuple(use_awaitable));
            char hello;
            std::size_t n = 0;
            if (!ec)
                std::tie(ec, n) = co_await asio::async_read(s, asio::buffer(&hello, 1),
                                                            asio::as_tuple(use_awaitable));
            if (ec && r.errors++ == 0) r.first_error = ec.message();
            s.close();
            if (++finished == connections) {
                t1 = steady::now();
                // Done: stop the server's accept loop (on its own thread).
                asio::post(rx_ctx, [&] { acceptor.close(); });
            }
        }
    };
    t0 = steady::now();
    for (int i = 0; i < parallel; ++i)
        asio::co_spawn(tx_ctx, client(), tx_failed.handler());
    tx_ctx.run(); // returns once every connection has finished closing
    if (tx_failed.error) rx_ctx.stop();
    server_thread.join();
    rx_failed.check();
    tx_failed.check();
    r.per_second = connections / std::chrono::duration<double>(t1 - t0).count();
    return r;
}

// -- the report ------------------------------------------------------------------------------

struct options {
    std::uint64_t size_mib = 1024;
    int pings = 10000;
    int warmup = 200;
    int connections = 2000;
    int parallel = 100;
    std::string only = "abcd"; // which of (a), (b), (c), (d) to run
    int idle = 10000;          // (d) connections
    double idle_seconds = 5;   // (d) idle period
};

[[noreturn]] void usage(int status) {
    std::fprintf(status ? stderr : stdout,
                 "usage: utp-bench [--size MiB] [--pings N] [--conns N] [--parallel N] [--quick] "
                 "[--unlocked]\n"
                 "                 [--only abc]\n"
                 "  --size MiB     bulk transfer size            (default 1024)\n"
                 "  --pings N      64-byte round trips            (default 10000)\n"
                 "  --conns N      connections set up and closed  (default 2000)\n"
                 "  --parallel N   connections at a time in (c)   (default 100)\n"
                 "  --quick        a short run: --size 128 --pings 1000 --conns 200\n"
                 "  --only LIST    run only these of (a) throughput, (b) latency, (c) setup,\n"
                 "                 (d) idle connections\n"
                 "  --idle N       connections held idle in (d) (default 10000)\n"
                 "  --unlocked     io_contexts hinted single-threaded (no reactor or engine\n"
                 "                 locks; each context is used by one thread here)\n");
    std::exit(status);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> long {
            if (i + 1 >= argc) usage(2);
            char* end = nullptr;
            long v = std::strtol(argv[++i], &end, 10);
            if (*end || v <= 0) usage(2);
            return v;
        };
        if (a == "--size")
            o.size_mib = value();
        else if (a == "--pings")
            o.pings = int(value());
        else if (a == "--conns")
            o.connections = int(value());
        else if (a == "--parallel")
            o.parallel = int(value());
        else if (a == "--quick")
            o.size_mib = 128, o.pings = 1000, o.connections = 200, o.idle = 2000,
            o.idle_seconds = 2;
        else if (a == "--unlocked")
            concurrency_hint = BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO;
        else if (a == "--only" && i + 1 < argc)
            o.only = argv[++i];
        else if (a == "--idle" && i + 1 < argc)
            o.idle = std::atoi(argv[++i]);
        else if (a == "-h" || a == "--help")
            usage(0);
        else
            usage(2);
    }
    o.parallel = std::min(o.parallel, o.connections);
    return o;
}

void row(const char* label, const std::string& a, const std::string& b) {
    std::printf("    %-34s %14s %14s\n", label, a.c_str(), b.c_str());
}

std::string fmt(const char* f, double v) {
    char s[64];
    std::snprintf(s, sizeof s, f, v);
    return s;
}

void header(int argc, char** argv) {
    std::string cmd;
    for (int i = 0; i < argc; ++i) {
        if (i) cmd += ' ';
        cmd += argv[i];
    }
    utsname u{};
    ::uname(&u);
    double load[1] = {0};
    ::getloadavg(load, 1);
    std::printf("utp-bench: uTP (this library) beside kernel TCP, loopback, same run\n");
    std::printf("command:   %s\n", cmd.c_str());
    std::printf("machine:   %u CPUs, %s %s, load average %.2f at start\n",
                std::thread::hardware_concurrency(), u.sysname, u.release, load[0]);
    std::printf("method:    one process; sender/client on the main thread, receiver/echo/"
                "acceptor\n           on a second thread, each with its own io_context"
                " (and uTP multiplexer)\n\n");
    std::printf("    %-34s %14s %14s\n", "", "uTP", "TCP");
}

} // namespace

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 sees the replaced operator new and the free() in the replaced operator delete, both
// inlined into Asio's code, as a mismatched pair: a false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    return ::operator new(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

// -- (d) idle connections ------------------------------------------------------------------

struct idle_result {
    int established = 0;
    double setup_seconds = 0;
    double idle_cpu = 0; // process CPU seconds over the idle period
    double idle_seconds = 0;
    std::uint64_t datagrams = 0; // both multiplexers, over the idle period
};

double process_cpu() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

idle_result idle_connections(int n, double idle_seconds) {
    asio::io_context ctx(concurrency_hint);
    utp::multiplexer_options mo;
    mo.protocol.accept_backlog = std::size_t(n);
    utp::multiplexer server_mux(ctx, {loopback, 0}, mo), client_mux(ctx, {loopback, 0});
    utp::acceptor acc(server_mux, std::size_t(n));
    std::vector<std::unique_ptr<utp::socket>> in, out;
    idle_result r;
    const auto t0 = steady::now();
    std::function<void()> accept_next = [&] {
        auto s = std::make_unique<utp::socket>(ctx);
        auto* p = s.get();
        in.push_back(std::move(s));
        acc.async_accept(*p, [&](boost::system::error_code ec) {
            if (!ec && int(in.size()) < n) accept_next();
        });
    };
    accept_next();
    for (int i = 0; i < n; ++i) {
        out.push_back(std::make_unique<utp::socket>(client_mux));
        out.back()->async_connect(acc.local_endpoint(), [&](boost::system::error_code ec) {
            if (!ec) ++r.established;
        });
    }
    while (r.established < n && steady::now() - t0 < std::chrono::seconds(60))
        ctx.run_one_for(std::chrono::milliseconds(100));
    r.setup_seconds = seconds_since(t0);
    const auto d0 = server_mux.stats().datagrams_received + client_mux.stats().datagrams_received;
    const double c0 = process_cpu();
    const auto i0 = steady::now();
    ctx.restart();
    ctx.run_for(
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(idle_seconds)));
    r.idle_seconds = seconds_since(i0);
    r.idle_cpu = process_cpu() - c0;
    r.datagrams =
        server_mux.stats().datagrams_received + client_mux.stats().datagrams_received - d0;
    for (auto& s : out)
        s->abort();
    for (auto& s : in)
        s->abort();
    ctx.restart();
    ctx.run_for(std::chrono::seconds(2));
    return r;
}

} // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        header(argc, argv);
        const std::uint64_t bytes = o.size_mib << 20;
        const unsigned budget = 120 + unsigned(o.size_mib / 4); // seconds: >= 4 MB/s

        auto wanted = [&](char part) { return o.only.find(part) != std::string::npos; };
        if (wanted('a')) {
            std::printf("(a) bulk transfer, %llu MiB, one connection\n",
                        (unsigned long long)o.size_mib);
            arm_watchdog("(a) uTP bulk transfer", budget);
            auto ua = throughput<utp_transport>(bytes);
            arm_watchdog("(a) TCP bulk transfer", budget);
            auto ta = throughput<tcp_transport>(bytes);
            const double gib = double(bytes) / double(1u << 30);
            row("throughput (MB/s)", fmt("%.1f", ua.mb_per_s), fmt("%.1f", ta.mb_per_s));
            row("CPU s per GiB, both sides", fmt("%.2f", (ua.tx_cpu + ua.rx_cpu) / gib),
                fmt("%.2f", (ta.tx_cpu + ta.rx_cpu) / gib));
            row("  sender thread", fmt("%.2f", ua.tx_cpu / gib), fmt("%.2f", ta.tx_cpu / gib));
            row("  receiver thread", fmt("%.2f", ua.rx_cpu / gib), fmt("%.2f", ta.rx_cpu / gib));
            const auto& us = ua.utp_stats;
            std::printf(
                "    uTP sender: %llu retransmits (fast %llu, RACK %llu, TLP %llu, RTO %llu;"
                " spurious %llu), %llu timeouts, %llu recoveries (%.0f ms), pacing"
                " delay %.0f ms, rtt %.0f us (min %.0f), cwnd %u B\n"
                "    uTP batching: %.1f datagrams per sendmmsg (sender), %.1f per recvmmsg"
                " (receiver)\n",
                (unsigned long long)us.retransmits, (unsigned long long)us.fast_retransmits,
                (unsigned long long)us.rack_retransmits, (unsigned long long)us.tlp_retransmits,
                (unsigned long long)us.rto_retransmits, (unsigned long long)us.spurious_retransmits,
                (unsigned long long)us.timeouts, (unsigned long long)us.recoveries,
                double(us.recovery_time.count()) / 1e3, double(us.pacing_delay.count()) / 1e3,
                double(us.rtt.count()), double(us.min_rtt.count()), us.cwnd,
                double(ua.tx_mux.datagrams_sent) /
                    double(std::max<std::uint64_t>(1, ua.tx_mux.send_calls)),
                double(ua.rx_mux.datagrams_received) /
                    double(std::max<std::uint64_t>(1, ua.rx_mux.receive_calls)));
            const auto datagrams = ua.tx_mux.datagrams_sent + ua.tx_mux.datagrams_received +
                                   ua.rx_mux.datagrams_sent + ua.rx_mux.datagrams_received;
            std::printf("    uTP heap allocations: %llu over %llu datagrams = %.4f per datagram"
                        " (setup included)\n",
                        (unsigned long long)ua.allocations, (unsigned long long)datagrams,
                        double(ua.allocations) / double(std::max<std::uint64_t>(1, datagrams)));
        }
        if (wanted('b')) {
            std::printf("(b) 64-byte ping-pong, %d round trips (after %d warm-up), no_delay\n",
                        o.pings, o.warmup);
            arm_watchdog("(b) uTP ping-pong", 120 + unsigned(o.pings / 100));
            auto ub = ping_pong<utp_transport>(o.pings, o.warmup);
            arm_watchdog("(b) TCP ping-pong", 120 + unsigned(o.pings / 100));
            auto tb = ping_pong<tcp_transport>(o.pings, o.warmup);
            row("median round trip (us)", fmt("%.1f", ub.median_us), fmt("%.1f", tb.median_us));
            row("99th percentile (us)", fmt("%.1f", ub.p99_us), fmt("%.1f", tb.p99_us));
            row("fastest (us)", fmt("%.1f", ub.min_us), fmt("%.1f", tb.min_us));
        }
        if (wanted('c')) {
            std::printf(
                "(c) connection setup: connect, accept, first byte, close; %d connections\n",
                o.connections);
            const unsigned setup_budget = 120 + unsigned(o.connections / 10);
            std::vector<std::pair<int, const char*>> modes = {{1, "one at a time (conn/s)"}};
            std::string par = std::to_string(o.parallel) + " at a time (conn/s)";
            if (o.parallel > 1) modes.emplace_back(o.parallel, par.c_str());
            for (auto [p, label] : modes) {
                arm_watchdog("(c) uTP connection setup", setup_budget);
                auto uc = setup_rate<utp_transport>(o.connections, p);
                arm_watchdog("(c) TCP connection setup", setup_budget);
                auto tc = setup_rate<tcp_transport>(o.connections, p);
                row(label, fmt("%.0f", uc.per_second), fmt("%.0f", tc.per_second));
                for (auto [t, r] : {std::pair{"uTP", &uc}, std::pair{"TCP", &tc}})
                    if (r->errors)
                        std::printf("    %s: %d of %d connections failed (first: %s)\n", t,
                                    r->errors, o.connections, r->first_error.c_str());
            }
        }
        if (wanted('d')) {
            std::printf("(d) %d idle uTP connections on one multiplexer pair, %.0f s idle\n",
                        o.idle, o.idle_seconds);
            arm_watchdog("(d) idle connections", 180);
            auto d = idle_connections(o.idle, o.idle_seconds);
            std::printf("    established %d in %.2f s; idle: %.3f CPU s over %.1f s, %llu datagrams"
                        " (keepalives)\n",
                        d.established, d.setup_seconds, d.idle_cpu, d.idle_seconds,
                        (unsigned long long)d.datagrams);
            if (d.established != o.idle)
                throw std::runtime_error("(d): only " + std::to_string(d.established) +
                                         " connections established");
        }
        ::alarm(0);
        std::printf("\nMB/s = 10^6 bytes per second. CPU: getrusage(RUSAGE_THREAD) of each side "
                    "over its\nwhole run; on loopback the kernel charges much of the receive path "
                    "to the sending\nthread, so the sum of both sides is the figure to compare.\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "utp-bench: %s\n", e.what());
        return 1;
    }
}
