// Suite `tokens`: an echo in both directions (the client's stream echoed by the server,
// then the server's stream echoed by the client) with every kind of completion token —
// callbacks, use_awaitable, deferred, use_future (io_context on another thread), as_tuple —
// plus asio's composed operations and handlers bound to a strand.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <array>
#include <optional>
#include <thread>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

constexpr std::uint64_t token_bytes = 512 * 1024;

/// An acceptor on its own port and a client multiplexer on another, on one io_context.
struct loopback_pair {
    asio::io_context ioc;
    utp::acceptor acc;
    utp::multiplexer client_mux;
    explicit loopback_pair(const udp::endpoint& where = loopback_v4())
        : acc(ioc, where), client_mux(ioc, where) {}
    udp::endpoint server() const { return acc.local_endpoint(); }
};

// ---------------------------------------------------------------------------------------
// callbacks

/// Echo with callbacks: async_read_some, then asio::async_write, until eof.
class cb_echo : public std::enable_shared_from_this<cb_echo> {
public:
    cb_echo(utp::socket s, outcomes& out) : s_(std::move(s)), out_(out), buf_(16 * 1024) {}
    void start() { read(); }

private:
    void read() {
        s_.async_read_some(
            asio::buffer(buf_),
            [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
    }
    void on_read(error_code ec, std::size_t n) {
        if (ec == asio::error::eof) {
            s_.shutdown(asio::socket_base::shutdown_send);
            return out_.ok();
        }
        if (ec) return out_.fail("callback echo read: " + ec.message());
        asio::async_write(s_, asio::buffer(buf_.data(), n),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                              if (ec)
                                  return self->out_.fail("callback echo write: " + ec.message());
                              self->read();
                          });
    }

    utp::socket s_;
    outcomes& out_;
    std::vector<std::uint8_t> buf_;
};

/// Send stream `tag` with async_write_some (partial writes handled by hand) while reading
/// it back with async_read_some; shut down after the last byte; expect exactly `size` back.
class cb_source : public std::enable_shared_from_this<cb_source> {
public:
    cb_source(utp::socket s, std::uint64_t tag, std::uint64_t size, outcomes& out)
        : s_(std::move(s)), p_(tag), size_(size), out_(out), wbuf_(24 * 1024), rbuf_(16 * 1024) {}
    void start() {
        write();
        read();
    }

private:
    void write() {
        if (written_ == size_) {
            s_.shutdown(asio::socket_base::shutdown_send);
            return part_done();
        }
        if (woff_ == wlen_) {
            wlen_ =
                static_cast<std::size_t>(std::min<std::uint64_t>(wbuf_.size(), size_ - written_));
            p_.fill(written_, {wbuf_.data(), wlen_});
            woff_ = 0;
        }
        s_.async_write_some(asio::buffer(wbuf_.data() + woff_, wlen_ - woff_),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                                if (ec) return self->fail("write: " + ec.message());
                                if (n == 0) return self->fail("write_some wrote nothing");
                                self->woff_ += n;
                                self->written_ += n;
                                self->write();
                            });
    }
    void read() {
        s_.async_read_some(
            asio::buffer(rbuf_), [self = shared_from_this()](error_code ec, std::size_t n) {
                if (ec == asio::error::eof) {
                    if (self->got_ != self->size_)
                        return self->fail("eof after " + std::to_string(self->got_) + " bytes");
                    return self->part_done();
                }
                if (ec) return self->fail("read: " + ec.message());
                if (self->p_.mismatch(self->got_, {self->rbuf_.data(), n}) != n)
                    return self->fail("echoed bytes differ near " + std::to_string(self->got_));
                self->got_ += n;
                self->read();
            });
    }
    void part_done() {
        if (++parts_ == 2 && !reported_) {
            reported_ = true;
            out_.ok();
        }
    }
    void fail(const std::string& what) {
        if (reported_) return;
        reported_ = true;
        out_.fail("callback source: " + what);
    }

    utp::socket s_;
    pattern p_;
    std::uint64_t size_;
    outcomes& out_;
    std::vector<std::uint8_t> wbuf_, rbuf_;
    std::size_t wlen_ = 0, woff_ = 0;
    std::uint64_t written_ = 0, got_ = 0;
    int parts_ = 0;
    bool reported_ = false;
};

// ---------------------------------------------------------------------------------------
// use_awaitable (errors as exceptions)

asio::awaitable<void> aw_echo(utp::socket& s) {
    std::vector<std::uint8_t> buf(16 * 1024);
    for (;;) {
        std::size_t n = 0;
        try {
            n = co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
            if (e.code() != asio::error::eof) throw;
            break;
        }
        co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::use_awaitable);
    }
    s.shutdown(asio::socket_base::shutdown_send);
}

asio::awaitable<void> aw_source(utp::socket& s, std::uint64_t tag, std::uint64_t size) {
    co_await (send_pattern(s, tag, size) && receive_pattern(s, tag, size));
}

// ---------------------------------------------------------------------------------------
// deferred

/// Echo with a deferred chain: read_some, then (in the chain's continuation) async_write
/// of what was read; the chain is launched later with a callback.
class deferred_echo : public std::enable_shared_from_this<deferred_echo> {
public:
    deferred_echo(utp::socket s, outcomes& out) : s_(std::move(s)), out_(out), buf_(16 * 1024) {}
    void start() { step(); }

private:
    void step() {
        auto self = shared_from_this();
        auto chain = s_.async_read_some(
            asio::buffer(buf_), asio::deferred([self](error_code ec, std::size_t n) {
                self->read_ec_ = ec;
                return asio::async_write(self->s_, asio::buffer(self->buf_.data(), ec ? 0 : n),
                                         asio::deferred);
            }));
        // Nothing happens until the deferred operation is launched.
        std::move(chain)([self](error_code ec, std::size_t) {
            if (self->read_ec_ == asio::error::eof) {
                self->s_.shutdown(asio::socket_base::shutdown_send);
                return self->out_.ok();
            }
            if (self->read_ec_)
                return self->out_.fail("deferred echo read: " + self->read_ec_.message());
            if (ec) return self->out_.fail("deferred echo write: " + ec.message());
            self->step();
        });
    }

    utp::socket s_;
    outcomes& out_;
    std::vector<std::uint8_t> buf_;
    error_code read_ec_;
};

/// Source whose operations are deferred objects, co_awaited (Boost 1.81 awaits them).
asio::awaitable<void> deferred_source(utp::socket& s, std::uint64_t tag, std::uint64_t size) {
    auto writer = [&]() -> asio::awaitable<void> {
        const pattern p(tag);
        std::vector<std::uint8_t> buf(20000);
        for (std::uint64_t off = 0; off < size;) {
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
            p.fill(off, {buf.data(), n});
            auto op = asio::async_write(s, asio::buffer(buf.data(), n), asio::deferred);
            const std::size_t w = co_await std::move(op);
            EXPECT(w == n, "deferred async_write wrote " << w << " of " << n);
            off += n;
        }
        s.shutdown(asio::socket_base::shutdown_send);
    };
    auto reader = [&]() -> asio::awaitable<void> {
        const pattern p(tag);
        std::vector<std::uint8_t> buf(7000);
        std::uint64_t got = 0;
        for (;;) {
            auto op = s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::deferred));
            auto [ec, n] = co_await std::move(op);
            if (ec == asio::error::eof) break;
            EXPECT(!ec, ec.message());
            EXPECT(p.mismatch(got, {buf.data(), n}) == n, "deferred source: bytes differ");
            got += n;
        }
        EXPECT(got == size, "deferred source got " << got);
    };
    co_await (writer() && reader());
}

// ---------------------------------------------------------------------------------------
// as_tuple

asio::awaitable<void> tuple_echo(utp::socket& s) {
    std::vector<std::uint8_t> buf(9000);
    for (;;) {
        auto [ec, n] =
            co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::eof) break;
        EXPECT(!ec, ec.message());
        auto [wec, w] = co_await asio::async_write(s, asio::buffer(buf.data(), n),
                                                   asio::as_tuple(asio::use_awaitable));
        EXPECT(!wec && w == n, wec.message());
    }
    s.shutdown(asio::socket_base::shutdown_send);
}

asio::awaitable<void> tuple_source(utp::socket& s, std::uint64_t tag, std::uint64_t size) {
    auto writer = [&]() -> asio::awaitable<void> {
        const pattern p(tag);
        std::vector<std::uint8_t> buf(30000);
        for (std::uint64_t off = 0; off < size;) {
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
            p.fill(off, {buf.data(), n});
            auto [ec, w] = co_await s.async_write_some(asio::buffer(buf.data(), n),
                                                       asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec && w > 0, ec.message());
            off += w; // a partial write: the rest is refilled from the stream
        }
        s.shutdown(asio::socket_base::shutdown_send);
    };
    co_await (writer() && receive_pattern(s, tag, size));
}

} // namespace

BOOST_AUTO_TEST_SUITE(tokens)

BOOST_AUTO_TEST_CASE(callbacks, *utf::timeout(60)) {
    loopback_pair env;
    outcomes out;
    // Connection 1: the client is the source, the server echoes.
    // Connection 2: the server is the source, the client echoes.
    utp::socket srv1(env.ioc), srv2(env.ioc);
    utp::socket cli1(env.client_mux), cli2(env.client_mux);
    int accepted = 0, connected = 0;
    env.acc.async_accept(srv1, [&](error_code ec) {
        if (ec) return out.fail("accept 1: " + ec.message());
        ++accepted;
        std::make_shared<cb_echo>(std::move(srv1), out)->start();
        env.acc.async_accept(srv2, [&](error_code ec) {
            if (ec) return out.fail("accept 2: " + ec.message());
            ++accepted;
            std::make_shared<cb_source>(std::move(srv2), 2, token_bytes, out)->start();
        });
    });
    cli1.async_connect(env.server(), [&](error_code ec) {
        if (ec) return out.fail("connect 1: " + ec.message());
        ++connected;
        std::make_shared<cb_source>(std::move(cli1), 1, token_bytes, out)->start();
    });
    cli2.async_connect(env.server(), [&](error_code ec) {
        if (ec) return out.fail("connect 2: " + ec.message());
        ++connected;
        std::make_shared<cb_echo>(std::move(cli2), out)->start();
    });
    require_run_until(
        env.ioc, [&] { return out.done() == 4; }, 30s, "callback echo", out);
    BOOST_TEST(accepted == 2);
    BOOST_TEST(connected == 2);
    require_run_returns(env.ioc, 10s, "callback echo");
}

BOOST_AUTO_TEST_CASE(callbacks_ipv6, *utf::timeout(60)) {
    if (!have_ipv6()) {
        BOOST_TEST_MESSAGE("no IPv6 loopback here: skipped");
        return;
    }
    loopback_pair env(loopback_v6());
    outcomes out;
    utp::socket srv(env.ioc), cli(env.client_mux);
    env.acc.async_accept(srv, [&](error_code ec) {
        if (ec) return out.fail("accept: " + ec.message());
        BOOST_TEST(srv.remote_endpoint() == env.client_mux.local_endpoint());
        std::make_shared<cb_echo>(std::move(srv), out)->start();
    });
    cli.async_connect(env.server(), [&](error_code ec) {
        if (ec) return out.fail("connect: " + ec.message());
        BOOST_TEST(cli.remote_endpoint() == env.server());
        BOOST_TEST(cli.local_endpoint().address().is_v6());
        std::make_shared<cb_source>(std::move(cli), 3, token_bytes, out)->start();
    });
    require_run_until(
        env.ioc, [&] { return out.done() == 2; }, 30s, "IPv6 echo", out);
    require_run_returns(env.ioc, 10s, "IPv6 echo");
}

BOOST_AUTO_TEST_CASE(use_awaitable, *utf::timeout(60)) {
    loopback_pair env;
    tasks t;
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket a = co_await env.acc.async_accept(asio::use_awaitable);
            co_await aw_echo(a);
            utp::socket b = co_await env.acc.async_accept(asio::use_awaitable);
            co_await aw_source(b, 12, token_bytes);
        },
        "server");
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket a(env.client_mux);
            co_await a.async_connect(env.server(), asio::use_awaitable);
            co_await aw_source(a, 11, token_bytes);
            utp::socket b(env.client_mux);
            co_await b.async_connect(env.server(), asio::use_awaitable);
            co_await aw_echo(b);
        },
        "client");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 30s, "use_awaitable echo", t);
    require_run_returns(env.ioc, 10s, "use_awaitable echo");
}

BOOST_AUTO_TEST_CASE(deferred, *utf::timeout(60)) {
    loopback_pair env;
    outcomes out;
    tasks t;
    utp::socket srv1(env.ioc), cli1(env.client_mux);
    // Accept and connect as deferred operations, launched only afterwards.
    auto accept1 = env.acc.async_accept(srv1, asio::deferred);
    auto connect1 = cli1.async_connect(env.server(), asio::deferred);
    std::move(accept1)([&](error_code ec) {
        if (ec) return out.fail("accept: " + ec.message());
        std::make_shared<deferred_echo>(std::move(srv1), out)->start();
    });
    std::move(connect1)([&](error_code ec) {
        if (ec) return out.fail("connect: " + ec.message());
        t.spawn(
            env.ioc,
            [](utp::socket s) -> asio::awaitable<void> {
                co_await deferred_source(s, 21, token_bytes);
            }(std::move(cli1)),
            "client source");
    });
    require_run_until(
        env.ioc, [&] { return out.done() == 1 && t.started() == 1 && t.all_done(); }, 30s,
        "deferred, way 1", out, t);

    // The other way: the server's stream, echoed by the client. The move-accept form too.
    std::optional<utp::socket> srv2;
    utp::socket cli2(env.client_mux);
    auto accept2 = env.acc.async_accept(asio::deferred);
    std::move(accept2)([&](error_code ec, utp::socket s) {
        if (ec) return out.fail("move-accept: " + ec.message());
        srv2.emplace(std::move(s));
        t.spawn(
            env.ioc,
            [&]() -> asio::awaitable<void> { co_await deferred_source(*srv2, 22, token_bytes); },
            "server source");
    });
    cli2.async_connect(env.server(), asio::deferred)([&](error_code ec) {
        if (ec) return out.fail("connect 2: " + ec.message());
        std::make_shared<deferred_echo>(std::move(cli2), out)->start();
    });
    require_run_until(
        env.ioc, [&] { return out.done() == 2 && t.started() == 2 && t.all_done(); }, 30s,
        "deferred, way 2", out, t);
    srv2.reset();
    require_run_returns(env.ioc, 10s, "deferred echo");
}

BOOST_AUTO_TEST_CASE(use_future, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    std::optional<utp::socket> srv(std::in_place, ioc), cli(std::in_place, client_mux);
    const auto server = acc.local_endpoint();

    // The io_context runs on its own thread. The sockets belong to that thread, so every
    // operation is initiated there (posted), and this thread waits on the futures.
    auto guard = asio::make_work_guard(ioc);
    std::atomic<bool> run_returned{false};
    std::thread io([&] {
        ioc.run_for(60s);
        run_returned = ioc.stopped();
    });
    struct joiner {
        asio::io_context& ioc;
        std::thread& t;
        ~joiner() {
            if (t.joinable()) {
                ioc.stop();
                t.join();
            }
        }
    } join_on_exit{ioc, io};
    auto on_io = [&](auto f) {
        return get(asio::post(ioc, asio::use_future(std::move(f))), 10s, "post to io thread");
    };
    auto wait = [&](auto&& fut, const char* what) { return get(std::move(fut), 10s, what); };

    auto accepted = on_io([&] { return acc.async_accept(*srv, asio::use_future); });
    auto connected = on_io([&] { return cli->async_connect(server, asio::use_future); });
    wait(connected, "connect");
    wait(accepted, "accept");

    // Ping-pong echo in chunks, both ways: `from` sends stream `tag`, `to` echoes it.
    auto ping_pong = [&](utp::socket& from, utp::socket& to, std::uint64_t tag) {
        const pattern p(tag);
        std::vector<std::uint8_t> out(16 * 1024), in(16 * 1024), back(16 * 1024);
        for (std::uint64_t off = 0; off < token_bytes / 4; off += out.size()) {
            p.fill(off, out);
            const std::size_t w = wait(
                on_io([&] { return asio::async_write(from, asio::buffer(out), asio::use_future); }),
                "write");
            BOOST_REQUIRE_EQUAL(w, out.size());
            const std::size_t r = wait(
                on_io([&] { return asio::async_read(to, asio::buffer(in), asio::use_future); }),
                "read");
            BOOST_REQUIRE_EQUAL(r, in.size());
            BOOST_REQUIRE(in == out);
            wait(on_io([&] { return asio::async_write(to, asio::buffer(in), asio::use_future); }),
                 "echo write");
            wait(
                on_io([&] { return asio::async_read(from, asio::buffer(back), asio::use_future); }),
                "echo read");
            BOOST_REQUIRE(back == out);
        }
    };
    ping_pong(*cli, *srv, 31);
    ping_pong(*srv, *cli, 32);

    // Both sides shut down; each read then fails with eof (a system_error from the future).
    on_io([&] {
        cli->shutdown(asio::socket_base::shutdown_send);
        srv->shutdown(asio::socket_base::shutdown_send);
    });
    for (utp::socket* s : {&*cli, &*srv}) {
        std::array<char, 8> b;
        auto f = on_io([&] { return s->async_read_some(asio::buffer(b), asio::use_future); });
        BOOST_REQUIRE(f.wait_for(10s) == std::future_status::ready);
        // A round trip through the io thread first: by then it has dropped its promise, so
        // the exception is released on this thread (ThreadSanitizer cannot see the
        // exception_ptr reference count inside libstdc++).
        on_io([] {});
        try {
            f.get();
            BOOST_ERROR("read after the peer's shutdown succeeded");
        } catch (const boost::system::system_error& e) {
            BOOST_TEST(e.code() == asio::error::eof, e.code().message());
        }
    }
    on_io([&] {
        cli.reset();
        srv.reset();
    });
    guard.reset();
    io.join();
    BOOST_TEST(run_returned.load(), "io_context::run_for() did not return once all was closed");
}

BOOST_AUTO_TEST_CASE(as_tuple, *utf::timeout(60)) {
    loopback_pair env;
    tasks t;
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            auto [ec1, a] = co_await env.acc.async_accept(asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec1, ec1.message());
            co_await tuple_echo(a);
            auto [ec2, b] = co_await env.acc.async_accept(asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec2, ec2.message());
            co_await tuple_source(b, 42, token_bytes);
        },
        "server");
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket a(env.client_mux);
            auto [ec1] =
                co_await a.async_connect(env.server(), asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec1, ec1.message());
            co_await tuple_source(a, 41, token_bytes);
            utp::socket b(env.client_mux);
            auto [ec2] =
                co_await b.async_connect(env.server(), asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec2, ec2.message());
            co_await tuple_echo(b);
        },
        "client");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 30s, "as_tuple echo", t);

    // as_tuple around a plain callback: the handler gets one std::tuple.
    utp::socket c(env.client_mux);
    std::optional<error_code> got;
    c.async_connect(dead_endpoint(),
                    asio::as_tuple([&](std::tuple<error_code> r) { got = std::get<0>(r); }));
    require_run_until(
        env.ioc, [&] { return got.has_value(); }, 5s, "as_tuple callback");
    BOOST_TEST(*got == asio::error::connection_refused, got->message());
    require_run_returns(env.ioc, 10s, "as_tuple echo");
}

BOOST_AUTO_TEST_CASE(composed_operations, *utf::timeout(60)) {
    // async_write of a 40-buffer sequence (more than one write_some takes), async_read_until
    // on a dynamic buffer, async_read with completion conditions and a scattered buffer
    // sequence, async_read of a dynamic buffer to eof.
    loopback_pair env;
    tasks t;
    const std::string header = "GET /utp HTTP/1.1\r\nHost: loopback\r\n\r\n";
    constexpr std::size_t pieces = 40, piece = 3001;
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket c(env.client_mux);
            co_await c.async_connect(env.server(), asio::use_awaitable);
            std::vector<std::vector<std::uint8_t>> blocks(pieces);
            std::vector<asio::const_buffer> seq{asio::buffer(header)};
            const pattern p(51);
            for (std::size_t i = 0; i < pieces; ++i) {
                blocks[i].resize(piece);
                p.fill(i * piece, blocks[i]);
                seq.push_back(asio::buffer(blocks[i]));
            }
            const std::size_t w = co_await asio::async_write(c, seq, asio::use_awaitable);
            EXPECT(w == header.size() + pieces * piece, "async_write wrote " << w);
            c.shutdown(asio::socket_base::shutdown_send);
            // The reply, to end of stream, into a dynamic buffer.
            std::string reply;
            auto [ec, n] = co_await asio::async_read(c, asio::dynamic_buffer(reply),
                                                     asio::as_tuple(asio::use_awaitable));
            EXPECT(ec == asio::error::eof, ec.message());
            EXPECT(reply == "200 OK " + std::to_string(pieces * piece), reply);
            EXPECT(n == reply.size(), n);
        },
        "client");
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await env.acc.async_accept(asio::use_awaitable);
            std::string in;
            const std::size_t hn = co_await asio::async_read_until(s, asio::dynamic_buffer(in),
                                                                   "\r\n\r\n", asio::use_awaitable);
            EXPECT(in.substr(0, hn) == header, in.substr(0, hn));
            std::vector<std::uint8_t> body(in.begin() + static_cast<std::ptrdiff_t>(hn), in.end());
            const std::size_t total = pieces * piece;
            // transfer_exactly: the next 1000 bytes.
            std::vector<std::uint8_t> part(5000);
            std::size_t n = co_await asio::async_read(
                s, asio::buffer(part), asio::transfer_exactly(1000), asio::use_awaitable);
            EXPECT(n == 1000, n);
            body.insert(body.end(), part.begin(), part.begin() + 1000);
            // transfer_at_least into a sequence of 20 small buffers (beyond one operation's
            // iovec limit).
            std::vector<std::vector<std::uint8_t>> small(20, std::vector<std::uint8_t>(100));
            std::vector<asio::mutable_buffer> scatter;
            for (auto& b : small)
                scatter.push_back(asio::buffer(b));
            n = co_await asio::async_read(s, scatter, asio::transfer_at_least(1900),
                                          asio::use_awaitable);
            EXPECT(n >= 1900 && n <= 2000, n);
            for (std::size_t i = 0; i * 100 < n; ++i)
                body.insert(body.end(), small[i].begin(),
                            small[i].begin() + static_cast<std::ptrdiff_t>(
                                                   std::min<std::size_t>(100, n - i * 100)));
            // The rest, to eof.
            std::vector<std::uint8_t> rest;
            auto [ec, m] = co_await asio::async_read(s, asio::dynamic_buffer(rest),
                                                     asio::as_tuple(asio::use_awaitable));
            EXPECT(ec == asio::error::eof, ec.message());
            body.insert(body.end(), rest.begin(), rest.end());
            EXPECT(body.size() == total, body.size());
            EXPECT(pattern(51).mismatch(0, body) == total, "body differs");
            co_await asio::async_write(s, asio::buffer("200 OK " + std::to_string(body.size())),
                                       asio::use_awaitable);
            s.shutdown(asio::socket_base::shutdown_send);
        },
        "server");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 30s, "composed operations", t);
    require_run_returns(env.ioc, 10s, "composed operations");
}

BOOST_AUTO_TEST_CASE(strand_bound_handlers, *utf::timeout(60)) {
    loopback_pair env;
    auto strand = asio::make_strand(env.ioc);
    outcomes out;
    int in_strand = 0, outside = 0;
    auto on_strand = [&](const char* what) {
        if (strand.running_in_this_thread())
            ++in_strand;
        else
            out.fail(std::string(what) + ": bound handler ran outside its strand");
    };

    utp::socket srv(env.ioc), cli(env.client_mux);
    // A socket whose executor is the strand: its unbound handlers run there too.
    utp::socket cli2(strand, env.client_mux);
    std::array<std::uint8_t, 5> msg{1, 2, 3, 4, 5}, in{};
    env.acc.async_accept(srv, asio::bind_executor(strand, [&](error_code ec) {
                             on_strand("accept");
                             if (ec) return out.fail("accept: " + ec.message());
                             asio::async_read(
                                 srv, asio::buffer(in),
                                 asio::bind_executor(strand, [&](error_code ec, std::size_t) {
                                     on_strand("read");
                                     if (ec) return out.fail("read: " + ec.message());
                                     out.ok();
                                 }));
                         }));
    cli.async_connect(env.server(), asio::bind_executor(strand, [&](error_code ec) {
                          on_strand("connect");
                          if (ec) return out.fail("connect: " + ec.message());
                          cli.async_write_some(
                              asio::buffer(msg),
                              asio::bind_executor(strand, [&](error_code ec, std::size_t) {
                                  on_strand("write");
                                  if (ec)
                                      out.fail("write: " + ec.message());
                                  else
                                      out.ok();
                              }));
                      }));
    // Control: an unbound handler of a socket on the plain executor is not in the strand
    // (so the checks above can fail).
    utp::socket probe(env.client_mux);
    probe.async_connect(dead_endpoint(), [&](error_code) {
        if (!strand.running_in_this_thread()) ++outside;
        out.ok();
    });
    cli2.async_connect(dead_endpoint(), [&](error_code ec) {
        on_strand("unbound handler of a strand socket");
        BOOST_TEST(ec == asio::error::connection_refused, ec.message());
        out.ok();
    });
    require_run_until(
        env.ioc, [&] { return out.done() == 4; }, 10s, "strand handlers", out);
    BOOST_TEST(in_strand == 5);
    BOOST_TEST(outside == 1);
    BOOST_TEST(in == msg);
    srv.close();
    cli.close();
    require_run_returns(env.ioc, 10s, "strand handlers");
}

BOOST_AUTO_TEST_SUITE_END()
