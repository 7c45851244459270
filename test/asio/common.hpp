//
// test/asio/common.hpp — helpers of the asio tests: loopback endpoints, tagged byte
// streams, bounded runs of an io_context, and a tracker for spawned coroutines.
//
// Every test is bounded: it runs its io_context with run_until() (or run_for) against a
// deadline and fails if the deadline passes or the context runs out of work first. Nothing
// sleeps to be correct; timers appear only as the thing an operation races against.
//
#ifndef UTP_TEST_ASIO_COMMON_HPP
#define UTP_TEST_ASIO_COMMON_HPP

#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 at -O2 with sanitizers takes the allocation and deallocation of an asio awaitable's
// coroutine frame (awaitable_frame_base's own operator new/delete) for a mismatched pair: a
// false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace utp_test {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------
// environment

/// Instrumented build (ASan, UBSan, TSan): tests may shrink their workload.
inline bool sanitizer_build() {
    return std::getenv("UTP_SANITIZER_BUILD") != nullptr;
}

/// `normal`, or `small` in an instrumented build.
inline std::size_t scaled(std::size_t normal, std::size_t small) {
    return sanitizer_build() ? small : normal;
}

inline udp::endpoint loopback_v4(unsigned short port = 0) {
    return {asio::ip::address_v4::loopback(), port};
}
inline udp::endpoint loopback_v6(unsigned short port = 0) {
    return {asio::ip::address_v6::loopback(), port};
}

/// Whether a UDP socket can be bound to ::1 here.
inline bool have_ipv6() {
    asio::io_context ioc;
    udp::socket s(ioc);
    error_code ec;
    s.open(udp::v6(), ec);
    if (!ec) s.bind(loopback_v6(), ec);
    return !ec;
}

/// A loopback port where nothing listens: bound to learn a free port, then closed.
inline udp::endpoint dead_endpoint(const udp::endpoint& family = loopback_v4()) {
    asio::io_context ioc;
    udp::socket s(ioc, udp::endpoint(family.address(), 0));
    return s.local_endpoint();
}

// ---------------------------------------------------------------------------------------
// errors inside handlers and coroutines

/// Thrown by EXPECT: Boost.Test's macros are not used off the main thread.
struct expectation_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

#define EXPECT(cond, msg)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::ostringstream expect_os_;                                                         \
            expect_os_ << __FILE__ << ":" << __LINE__ << ": " #cond " failed: " << msg;            \
            throw ::utp_test::expectation_failed(expect_os_.str());                                \
        }                                                                                          \
    } while (false)

#define EXPECT_EC(ec, expected)                                                                    \
    EXPECT((ec) == (expected),                                                                     \
           "got '" << (ec).message() << "', expected '" << error_code(expected).message() << "'")

/// Outcomes of callback-driven activities: how many finished, and what failed.
class outcomes {
public:
    void ok() {
        std::lock_guard g(m_);
        ++done_;
    }
    void fail(std::string what) {
        std::lock_guard g(m_);
        ++done_;
        failures_.push_back(std::move(what));
    }
    /// Record the exception being handled (call from a catch block).
    void fail_current(const std::string& name) {
        try {
            throw;
        } catch (const asio::multiple_exceptions& e) {
            // Both sides of an `a && b` failed: report the first one's reason.
            try {
                std::rethrow_exception(e.first_exception());
            } catch (...) {
                fail_current(name);
            }
        } catch (const std::exception& e) {
            fail(name + ": " + e.what());
        } catch (...) {
            fail(name + ": unknown exception");
        }
    }
    std::size_t done() const {
        std::lock_guard g(m_);
        return done_;
    }
    std::vector<std::string> failures() const {
        std::lock_guard g(m_);
        return failures_;
    }
    /// Report every failure to Boost.Test (main thread only).
    void report() const {
        for (const auto& f : failures())
            BOOST_ERROR(f);
    }

private:
    mutable std::mutex m_;
    std::size_t done_ = 0;
    std::vector<std::string> failures_;
};

/// Spawns coroutines and records how each one ended.
class tasks {
public:
    /// `where`: an executor or an execution context; `a`: an awaitable, or a function
    /// object returning one (kept alive until the coroutine ends).
    template <class Where, class Awaitable>
    void spawn(Where&& where, Awaitable&& a, std::string name) {
        started_.fetch_add(1);
        asio::co_spawn(std::forward<Where>(where), std::forward<Awaitable>(a),
                       [this, name = std::move(name)](std::exception_ptr e) {
                           if (!e) return out_.ok();
                           try {
                               std::rethrow_exception(e);
                           } catch (...) {
                               out_.fail_current(name);
                           }
                       });
    }
    std::size_t started() const { return started_.load(); }
    std::size_t finished() const { return out_.done(); }
    bool all_done() const { return finished() == started(); }
    std::vector<std::string> failures() const { return out_.failures(); }
    void report() const { out_.report(); }

private:
    std::atomic<std::size_t> started_{0};
    outcomes out_;
};

// ---------------------------------------------------------------------------------------
// bounded runs

enum class run_result { done, timed_out, out_of_work };

inline std::ostream& operator<<(std::ostream& os, run_result r) {
    switch (r) {
    case run_result::done:
        return os << "done";
    case run_result::timed_out:
        return os << "timed out";
    case run_result::out_of_work:
        return os << "io_context ran out of work first";
    }
    return os << "?";
}

/// Run `ioc` on this thread until `done()` holds (checked after every handler), the
/// deadline passes, or the context runs out of work. Uses no Boost.Test: any thread.
template <class Pred>
run_result run_until(asio::io_context& ioc, Pred&& done, steady::duration limit) {
    const auto deadline = steady::now() + limit;
    if (ioc.stopped()) ioc.restart();
    while (!done()) {
        if (steady::now() >= deadline) return run_result::timed_out;
        if (ioc.run_one_until(deadline) == 0 && ioc.stopped())
            return done() ? run_result::done : run_result::out_of_work;
    }
    return run_result::done;
}

/// run_until(), failing the test (BOOST_REQUIRE) unless `done()` came true in time. The
/// `watched` trackers (tasks, outcomes) stop the run early when one of them records a
/// failure; their failures are reported either way.
template <class Pred, class... Watched>
void require_run_until(asio::io_context& ioc, Pred&& done, steady::duration limit,
                       const std::string& what, const Watched&... watched) {
    const auto t0 = steady::now();
    auto failed = [&] { return (... || !watched.failures().empty()); };
    const run_result r = run_until(
        ioc, [&] { return failed() || done(); }, limit);
    (watched.report(), ...);
    BOOST_REQUIRE_MESSAGE(!failed(), what << ": failed (see above)");
    BOOST_REQUIRE_MESSAGE(
        r == run_result::done,
        what << ": " << r << " (limit " << std::chrono::duration<double>(limit).count()
             << " s, ran " << std::chrono::duration<double>(steady::now() - t0).count() << " s)");
}

/// Run `ioc` until it runs out of work: every connection closed and finished its FIN
/// exchange, every operation completed. Fails the test if it takes longer than `limit`.
inline void require_run_returns(asio::io_context& ioc, steady::duration limit,
                                const std::string& what) {
    if (ioc.stopped()) ioc.restart();
    const auto t0 = steady::now();
    ioc.run_for(limit);
    BOOST_CHECK_MESSAGE(ioc.stopped(), what << ": io_context::run() did not return within "
                                            << std::chrono::duration<double>(limit).count()
                                            << " s: a connection or an operation is still alive");
    BOOST_TEST_MESSAGE(what << ": run() returned after "
                            << std::chrono::duration<double>(steady::now() - t0).count() << " s");
}

/// Spawn a server and a client coroutine (function objects returning awaitables) and run
/// `ioc` until both have ended, failing the test on a failure of either or after `limit`.
template <class Server, class Client>
void run_server_and_client(asio::io_context& ioc, Server server, Client client,
                           steady::duration limit, const std::string& what) {
    tasks t;
    t.spawn(ioc, std::move(server), "server");
    t.spawn(ioc, std::move(client), "client");
    require_run_until(
        ioc, [&] { return t.all_done(); }, limit, what, t);
}

/// Wait (bounded) for a future and return its value; EXPECT-fails if it is not ready.
template <class Future>
auto get(Future&& f, steady::duration limit, const char* what) {
    EXPECT(f.wait_for(limit) == std::future_status::ready, what << ": not ready in time");
    return f.get();
}

// ---------------------------------------------------------------------------------------
// tagged byte streams (the exchanges below use them)

inline std::uint64_t mix64(std::uint64_t x) noexcept { // splitmix64
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/** An endless byte stream determined by a tag: byte `i` of stream `t` is a function of
    (t, i) only, so a receiver checks what it got at any offset without a copy, and two
    streams with different tags differ almost everywhere. */
class pattern {
public:
    explicit pattern(std::uint64_t tag) noexcept : seed_(mix64(tag ^ 0x7574702d74657374ull)) {}

    std::uint8_t at(std::uint64_t off) const noexcept {
        return static_cast<std::uint8_t>(mix64(seed_ + off / 8) >> (8 * (off % 8)));
    }

    void fill(std::uint64_t off, std::span<std::uint8_t> out) const noexcept {
        std::size_t i = 0;
        while (i < out.size()) {
            const std::uint64_t pos = off + i;
            std::uint64_t w = mix64(seed_ + pos / 8);
            unsigned k = static_cast<unsigned>(pos % 8);
            if (k == 0 && out.size() - i >= 8) {
                for (unsigned b = 0; b < 8; ++b)
                    out[i + b] = static_cast<std::uint8_t>(w >> (8 * b));
                i += 8;
                continue;
            }
            for (; k < 8 && i < out.size(); ++k, ++i)
                out[i] = static_cast<std::uint8_t>(w >> (8 * k));
        }
    }

    /// Index of the first byte of `in` that differs from the stream at `off`, or in.size().
    std::size_t mismatch(std::uint64_t off, std::span<const std::uint8_t> in) const {
        std::uint8_t scratch[4096];
        for (std::size_t done = 0; done < in.size();) {
            const std::size_t n = std::min(sizeof scratch, in.size() - done);
            fill(off + done, {scratch, n});
            if (std::memcmp(scratch, in.data() + done, n) != 0)
                for (std::size_t i = 0; i < n; ++i)
                    if (scratch[i] != in[done + i]) return done + i;
            done += n;
        }
        return in.size();
    }

private:
    std::uint64_t seed_;
};

// ---------------------------------------------------------------------------------------
// coroutine building blocks (C++20 coroutines, asio::use_awaitable)

/// Write `size` bytes of stream `tag` (in chunks of at most `chunk`), then shut down the
/// sending side if `shutdown`.
inline asio::awaitable<void> send_pattern(utp::socket& s, std::uint64_t tag, std::uint64_t size,
                                          bool shutdown = true, std::size_t chunk = 64 * 1024) {
    const pattern p(tag);
    std::vector<std::uint8_t> buf(std::min<std::uint64_t>(chunk, size));
    for (std::uint64_t off = 0; off < size;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size - off));
        p.fill(off, {buf.data(), n});
        co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::use_awaitable);
        off += n;
    }
    if (shutdown) s.shutdown(asio::socket_base::shutdown_send);
}

/// Read until end of stream, checking every byte against stream `tag`; the stream must be
/// exactly `size` bytes long.
inline asio::awaitable<void> receive_pattern(utp::socket& s, std::uint64_t tag,
                                             std::uint64_t size) {
    const pattern p(tag);
    std::vector<std::uint8_t> buf(64 * 1024);
    std::uint64_t got = 0;
    for (;;) {
        auto [ec, n] =
            co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::eof) break;
        EXPECT(!ec, "read after " << got << " bytes: " << ec.message());
        const std::size_t bad = p.mismatch(got, {buf.data(), n});
        EXPECT(bad == n, "stream " << tag << " differs at byte " << got + bad);
        got += n;
        EXPECT(got <= size, "stream " << tag << " longer than " << size);
    }
    EXPECT(got == size, "stream " << tag << ": got " << got << " bytes of " << size);
}

/// Echo everything back until end of stream, then shut down the sending side.
inline asio::awaitable<void> echo(utp::socket& s, std::size_t chunk = 64 * 1024) {
    std::vector<std::uint8_t> buf(chunk);
    for (;;) {
        auto [ec, n] =
            co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::eof) break;
        EXPECT(!ec, "echo read: " << ec.message());
        co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::use_awaitable);
    }
    s.shutdown(asio::socket_base::shutdown_send);
}

// ---------------------------------------------------------------------------------------
// exchanges driven by callbacks on one io_context

/// Send `n` bytes of stream `tag` from `from` to `to` and check they arrive intact.
template <class From, class To>
void exchange(asio::io_context& ioc, From& from, To& to, std::uint64_t tag, std::size_t n = 10000) {
    std::vector<std::uint8_t> out(n), in(n);
    pattern(tag).fill(0, out);
    std::optional<error_code> w, r;
    asio::async_write(from, asio::buffer(out), [&](error_code ec, std::size_t) { w = ec; });
    asio::async_read(to, asio::buffer(in), [&](error_code ec, std::size_t) { r = ec; });
    require_run_until(
        ioc, [&] { return w && r; }, 5s, "exchange");
    BOOST_TEST(!*w, w->message());
    BOOST_TEST(!*r, r->message());
    BOOST_TEST((in == out), "exchanged bytes differ");
}

/// Accept into `server` on `acc` while `client` dials `to` (default: the acceptor's own
/// endpoint); both must succeed.
template <class Client, class Server>
void accept_and_connect(asio::io_context& ioc, utp::acceptor& acc, Server& server, Client& client,
                        std::optional<udp::endpoint> to = std::nullopt) {
    std::optional<error_code> a, c;
    acc.async_accept(server, [&](error_code ec) { a = ec; });
    client.async_connect(to ? *to : acc.local_endpoint(), [&](error_code ec) { c = ec; });
    require_run_until(
        ioc, [&] { return a && c; }, 5s, "accept and connect");
    BOOST_REQUIRE_MESSAGE(!*a, "accept: " << a->message());
    BOOST_REQUIRE_MESSAGE(!*c, "connect: " << c->message());
}

/// Send `out` from `sender` to `mux`'s port as a raw (non-µTP) datagram and receive it there
/// into `in`; checks its source, returns its length.
inline std::size_t send_and_receive_raw(asio::io_context& ioc, utp::multiplexer& mux,
                                        udp::socket& sender, asio::const_buffer out,
                                        asio::mutable_buffer in) {
    std::optional<std::size_t> got;
    udp::endpoint from;
    mux.async_receive_from(in, from, [&](error_code ec, std::size_t n) {
        BOOST_TEST(!ec, ec.message());
        got = n;
    });
    sender.send_to(out, mux.local_endpoint());
    require_run_until(
        ioc, [&] { return got.has_value(); }, 5s, "raw datagram");
    BOOST_TEST(from == sender.local_endpoint());
    return *got;
}

} // namespace utp_test

#endif
