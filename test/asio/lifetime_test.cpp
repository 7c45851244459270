// Suite `lifetime`: objects going away with work in flight.
//  - the io_context destroyed with live connections, transfers in flight, and a pending
//    accept, connect, raw receive (in coroutine frames and plain handlers): no crash, no
//    leak (the engines are freed; ASan's leak check covers the rest);
//  - a socket destroyed mid-transfer: its FIN still goes out after the buffered data, so
//    the peer reads every byte that was written, then eof;
//  - the multiplexer handle destroyed before its sockets: the engine lives on;
//  - multiplexer::close() with operations pending: all complete with operation_aborted.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <functional>
#include <memory>
#include <optional>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

using engine = utp::detail::engine;

/// Read and count until the connection ends (however it ends).
asio::awaitable<void> count_reads(utp::socket& s, std::uint64_t& got) {
    std::vector<std::uint8_t> buf(64 * 1024);
    for (;;) {
        auto [ec, n] =
            co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        got += n;
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(lifetime)

BOOST_AUTO_TEST_CASE(io_context_destroyed_with_work_in_flight, *utf::timeout(60)) {
    for (bool stop_first : {false, true}) {
        BOOST_TEST_CONTEXT((stop_first ? "stopped, then destroyed" : "destroyed while idle")) {
            std::weak_ptr<engine> server_engine, client_engine;
            tasks t; // outlives the io_context: the coroutines' completion handlers refer to it
            std::array<std::uint64_t, 3> got{};
            std::array<char, 512> raw_buf;
            udp::endpoint raw_from;
            bool raw_completed = false;
            {
                asio::io_context ioc;
                udp::socket silent(ioc, loopback_v4());
                {
                    utp::acceptor acc(ioc, loopback_v4());
                    utp::multiplexer client_mux(ioc, loopback_v4());
                    server_engine = acc.get_multiplexer().impl();
                    client_engine = client_mux.impl();
                    // Echo servers, and an accept that stays pending (4 expected, 3 come).
                    t.spawn(
                        ioc,
                        [&]() -> asio::awaitable<void> {
                            for (int i = 0; i < 4; ++i) {
                                utp::socket s = co_await acc.async_accept(asio::use_awaitable);
                                t.spawn(
                                    ioc,
                                    [](utp::socket s) -> asio::awaitable<void> {
                                        co_await echo(s);
                                    }(std::move(s)),
                                    "echo");
                            }
                        },
                        "accept loop");
                    // Three transfers far too long to finish.
                    for (std::size_t i = 0; i < got.size(); ++i)
                        t.spawn(
                            ioc,
                            [&, i]() -> asio::awaitable<void> {
                                utp::socket s(client_mux);
                                co_await s.async_connect(acc.local_endpoint(), asio::use_awaitable);
                                co_await (send_pattern(s, 1100 + i, std::uint64_t{1} << 34) &&
                                          count_reads(s, got[i]));
                            },
                            "transfer");
                    // A connect that stays pending (the peer never answers).
                    t.spawn(
                        ioc,
                        [&]() -> asio::awaitable<void> {
                            utp::socket s(client_mux);
                            co_await s.async_connect(silent.local_endpoint(), asio::use_awaitable);
                        },
                        "silent connect");
                    // A raw receive that stays pending, with a plain callback.
                    client_mux.async_receive_from(
                        asio::buffer(raw_buf), raw_from,
                        [&](error_code, std::size_t) { raw_completed = true; });
                    require_run_until(
                        ioc,
                        [&] {
                            return std::all_of(got.begin(), got.end(),
                                               [](std::uint64_t g) { return g >= (1u << 20); });
                        },
                        20s, "transfers under way", t);
                    BOOST_TEST(t.finished() == 0u);
                    if (stop_first) {
                        ioc.stop();
                        ioc.poll(); // a stopped context runs nothing
                    }
                    // The handles go first; the sockets live on in the coroutine frames.
                }
                BOOST_TEST(!server_engine.expired());
                BOOST_TEST(!client_engine.expired());
                // ~io_context: the frames, handlers and engines are destroyed here.
            }
            BOOST_TEST(server_engine.expired(), "the acceptor's engine leaked");
            BOOST_TEST(client_engine.expired(), "the client's engine leaked");
            BOOST_TEST(!raw_completed);
            BOOST_TEST(t.failures().empty());
        }
    }
}

// The writer's socket is destroyed (not closed: destroyed) while a write is pending and data
// is buffered. The peer reads exactly the bytes of the writes that completed, then eof.
BOOST_AUTO_TEST_CASE(socket_destroyed_mid_transfer_sends_fin, *utf::timeout(60)) {
    for (bool destroy_mux_too : {false, true}) {
        BOOST_TEST_CONTEXT((destroy_mux_too ? "socket and multiplexer handle" : "socket only")) {
            asio::io_context ioc;
            utp::acceptor acc(ioc, loopback_v4());
            std::optional<utp::multiplexer> client_mux(std::in_place, ioc, loopback_v4());
            auto writer = std::make_unique<utp::socket>(*client_mux);
            const pattern pat(1201);
            std::uint64_t written = 0;
            bool destroyed = false;
            std::vector<std::uint8_t> chunk(100 * 1024);
            std::size_t late_completions = 0;
            std::optional<error_code> failed;

            std::function<void()> write_next = [&] {
                pat.fill(written, chunk);
                writer->async_write_some(asio::buffer(chunk), [&](error_code ec, std::size_t n) {
                    if (destroyed) {
                        // The write pending at destruction: aborted, or done (then counted).
                        ++late_completions;
                        if (!ec)
                            written += n;
                        else if (ec != asio::error::operation_aborted)
                            failed = ec;
                        return;
                    }
                    if (ec) {
                        failed = ec;
                        return;
                    }
                    written += n;
                    if (written >= (2u << 20)) {
                        // Mid-transfer: issue one more write, then destroy the socket.
                        write_next();
                        writer.reset();
                        if (destroy_mux_too) client_mux.reset();
                        destroyed = true;
                        return;
                    }
                    write_next();
                });
            };
            std::optional<utp::socket> reader;
            std::uint64_t got = 0;
            std::optional<error_code> end;
            std::vector<std::uint8_t> rbuf(64 * 1024);
            std::function<void()> read_next = [&] {
                reader->async_read_some(asio::buffer(rbuf), [&](error_code ec, std::size_t n) {
                    if (ec) {
                        end = ec;
                        return;
                    }
                    if (pat.mismatch(got, {rbuf.data(), n}) != n) {
                        end = asio::error::fault;
                        return;
                    }
                    got += n;
                    read_next();
                });
            };
            acc.async_accept([&](error_code ec, utp::socket s) {
                BOOST_TEST(!ec, ec.message());
                reader.emplace(std::move(s));
                read_next();
            });
            writer->async_connect(acc.local_endpoint(), [&](error_code ec) {
                BOOST_TEST(!ec, ec.message());
                write_next();
            });
            require_run_until(
                ioc, [&] { return end.has_value() && late_completions == 1; }, 30s,
                "the peer's reads end");
            BOOST_TEST(!failed.has_value(), (failed ? failed->message() : ""));
            BOOST_TEST(destroyed);
            BOOST_TEST(*end == asio::error::eof, end->message());
            BOOST_TEST(got == written, "read " << got << " of " << written << " written");
            BOOST_TEST(written > (2u << 20));
            reader.reset();
            require_run_returns(ioc, 10s, "after the destroyed socket's FIN");
        }
    }
}

// The engine lives as long as any handle: a transfer outlives its multiplexer object.
BOOST_AUTO_TEST_CASE(multiplexer_handle_destroyed_first, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    auto client_mux = std::make_unique<utp::multiplexer>(ioc, loopback_v4());
    std::weak_ptr<engine> e = client_mux->impl();
    const std::uint64_t size = 4 << 20;
    auto s = std::make_unique<utp::socket>(*client_mux);
    client_mux.reset();
    BOOST_TEST(!e.expired());
    tasks t;
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            co_await s->async_connect(acc.local_endpoint(), asio::use_awaitable);
            co_await (send_pattern(*s, 1301, size) && receive_pattern(*s, 1301, size));
            s.reset();
        },
        "client");
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket a = co_await acc.async_accept(asio::use_awaitable);
            co_await echo(a);
        },
        "server");
    require_run_until(
        ioc, [&] { return t.all_done(); }, 30s, "without its multiplexer handle", t);
    require_run_returns(ioc, 10s, "without its multiplexer handle");
    BOOST_TEST(e.expired(), "the engine outlived its last handle and connection");
}

// close() on the multiplexer: every pending operation on it completes with operation_aborted.
BOOST_AUTO_TEST_CASE(multiplexer_close_aborts_everything, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer& mux = acc.get_multiplexer();
    utp::multiplexer peer_mux(ioc, loopback_v4());
    udp::socket silent(ioc, loopback_v4());

    // An established connection whose server side lives on `mux`.
    utp::socket srv(ioc), cli(peer_mux);
    std::optional<error_code> a, c;
    acc.async_accept(srv, [&](error_code ec) { a = ec; });
    cli.async_connect(acc.local_endpoint(), [&](error_code ec) { c = ec; });
    require_run_until(
        ioc, [&] { return a && c; }, 5s, "connect");
    BOOST_REQUIRE(!*a && !*c);

    std::vector<std::pair<std::string, std::optional<error_code>>> results(4);
    std::array<std::uint8_t, 100> rbuf;
    std::array<char, 100> raw;
    udp::endpoint from;
    srv.async_read_some(asio::buffer(rbuf), [&](error_code ec, std::size_t) {
        results[0] = {"read", ec};
    });
    utp::socket next(ioc);
    acc.async_accept(next, [&](error_code ec) { results[1] = {"accept", ec}; });
    utp::socket dialer(mux);
    dialer.async_connect(silent.local_endpoint(), [&](error_code ec) {
        results[2] = {"connect", ec};
    });
    mux.async_receive_from(asio::buffer(raw), from, [&](error_code ec, std::size_t) {
        results[3] = {"raw receive", ec};
    });
    ioc.poll();
    for (auto& r : results)
        BOOST_TEST(!r.second.has_value(), r.first << " completed early");
    mux.close();
    BOOST_TEST(!mux.is_open());
    require_run_until(
        ioc,
        [&] {
            return results[0].second && results[1].second && results[2].second && results[3].second;
        },
        5s, "aborted operations");
    for (std::size_t i = 0; i < results.size(); ++i)
        BOOST_TEST(*results[i].second == asio::error::operation_aborted,
                   results[i].first << ": " << results[i].second->message());
    // Operations started after close() fail at once.
    std::optional<error_code> late;
    utp::socket late_dialer(mux);
    late_dialer.async_connect(silent.local_endpoint(), [&](error_code ec) { late = ec; });
    require_run_until(
        ioc, [&] { return late.has_value(); }, 5s, "connect after close");
    BOOST_TEST(!!*late, "connect through a closed multiplexer succeeded");
    cli.abort(); // its peer is gone without a word: don't wait for the idle timeout
    silent.close();
    require_run_returns(ioc, 10s, "after close");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------
// Every destruction order of {socket, acceptor, multiplexer, the multiplexer's io_context},
// for an accepted and for a connected socket, the socket on the multiplexer's context or on
// another one. Each object goes in turn (the living contexts are polled in between); a read
// is pending on the socket throughout. Clean under ASan/LSan means: no crash, no leak, the
// engine freed at the end, and the pending read either aborted on its own (living)
// context or destroyed with it, never invoked on a dead one.

BOOST_AUTO_TEST_SUITE(lifetime_orders)

namespace {

enum class item { socket, acceptor, multiplexer, context };

const char* name(item i) {
    switch (i) {
    case item::socket:
        return "socket";
    case item::acceptor:
        return "acceptor";
    case item::multiplexer:
        return "multiplexer";
    case item::context:
        return "io_context";
    }
    return "?";
}

/// What the pending read's handler saw; outlives every context.
struct read_outcome {
    bool called = false;
    error_code ec;
    const asio::io_context* ran_on = nullptr;
};

void destroy_in_order(bool accepted, bool other_context, const std::array<item, 4>& order) {
    // The peer: its own context, multiplexer and acceptor, destroyed last.
    asio::io_context peer_ctx;
    utp::acceptor peer_acc(peer_ctx, loopback_v4());
    utp::multiplexer peer_mux(peer_ctx, loopback_v4());

    auto ctx = std::make_unique<asio::io_context>();
    auto other = other_context ? std::make_unique<asio::io_context>() : nullptr;
    asio::io_context& sock_ctx = other ? *other : *ctx;
    std::optional<utp::multiplexer> mux(std::in_place, *ctx, loopback_v4());
    std::optional<utp::acceptor> acc(std::in_place, *mux);
    std::optional<utp::socket> s;
    std::optional<utp::socket> peer_side;
    const std::weak_ptr<engine> e = mux->impl();

    auto poll = [](asio::io_context* c) {
        if (!c) return;
        c->restart();
        c->poll();
    };
    auto poll_all = [&] {
        for (int i = 0; i < 20; ++i) {
            poll(ctx.get());
            poll(other.get());
            poll(&peer_ctx);
        }
    };
    auto run_until_ok = [&](auto pred, const char* what) {
        const auto deadline = steady::now() + 5s;
        while (!pred() && steady::now() < deadline) {
            poll_all();
            ctx->restart();
            ctx->run_one_for(1ms); // bounded wait for the next datagram, not a sleep
        }
        BOOST_REQUIRE_MESSAGE(pred(), what);
    };

    std::optional<error_code> a, c;
    if (accepted) {
        s.emplace(sock_ctx); // accepted into a socket of sock_ctx, its connection on mux
        peer_side.emplace(peer_mux);
        acc->async_accept(*s, [&](error_code ec) { a = ec; });
        peer_side->async_connect(mux->local_endpoint(), [&](error_code ec) { c = ec; });
    } else {
        s.emplace(sock_ctx.get_executor(), *mux); // dials out through mux
        peer_side.emplace(peer_ctx);
        peer_acc.async_accept(*peer_side, [&](error_code ec) { a = ec; });
        s->async_connect(peer_acc.local_endpoint(), [&](error_code ec) { c = ec; });
    }
    run_until_ok([&] { return a && c; }, "connected");
    BOOST_REQUIRE(!*a && !*c);

    auto outcome = std::make_shared<read_outcome>();
    auto buf = std::make_shared<std::array<char, 64>>();
    const asio::io_context* sock_ctx_ptr = &sock_ctx;
    s->async_read_some(asio::buffer(*buf),
                       [outcome, buf, sock_ctx_ptr](error_code ec, std::size_t) {
                           outcome->called = true;
                           outcome->ec = ec;
                           outcome->ran_on = sock_ctx_ptr;
                       });
    poll_all();
    BOOST_REQUIRE(!outcome->called);

    bool socket_context_died = false;
    for (item i : order) {
        switch (i) {
        case item::socket:
            s.reset();
            break;
        case item::acceptor:
            acc.reset();
            break;
        case item::multiplexer:
            mux.reset();
            break;
        case item::context:
            if (!other) socket_context_died = true;
            ctx.reset();
            // A socket on another context outlives its multiplexer's: closed, and saying so.
            if (s && other) {
                BOOST_TEST(!s->is_open());
                error_code ec;
                s->available(ec);
                BOOST_TEST(!!ec);
            }
            break;
        }
        poll_all();
    }
    if (other) {
        other.reset();
        socket_context_died = true;
    }
    poll_all();
    BOOST_TEST(e.expired(), "the engine outlived every object and context");
    // Aborted (on its own context, while alive), or destroyed with that context.
    if (outcome->called)
        BOOST_TEST(outcome->ec == asio::error::operation_aborted, outcome->ec.message());
    else
        BOOST_TEST(socket_context_died, "the pending read was lost on a living context");
    peer_side.reset();
}

void all_orders(bool accepted, bool other_context) {
    std::array<item, 4> order{item::socket, item::acceptor, item::multiplexer, item::context};
    int n = 0;
    do {
        BOOST_TEST_CONTEXT(name(order[0]) << ", " << name(order[1]) << ", " << name(order[2])
                                          << ", " << name(order[3])) {
            destroy_in_order(accepted, other_context, order);
        }
        ++n;
    } while (std::next_permutation(order.begin(), order.end()));
    BOOST_TEST(n == 24);
}

} // namespace

BOOST_AUTO_TEST_CASE(accepted_socket_same_context, *utf::timeout(120)) {
    all_orders(true, false);
}
BOOST_AUTO_TEST_CASE(accepted_socket_other_context, *utf::timeout(120)) {
    all_orders(true, true);
}
BOOST_AUTO_TEST_CASE(connected_socket_same_context, *utf::timeout(120)) {
    all_orders(false, false);
}
BOOST_AUTO_TEST_CASE(connected_socket_other_context, *utf::timeout(120)) {
    all_orders(false, true);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------
// Moved-from objects are valid and closed, as Asio's are; the moved-to ones work.

BOOST_AUTO_TEST_SUITE(moved_from)

static_assert(std::is_nothrow_move_constructible_v<utp::socket>);
static_assert(std::is_nothrow_move_assignable_v<utp::socket>);
static_assert(std::is_nothrow_move_constructible_v<utp::acceptor>);
static_assert(std::is_nothrow_move_assignable_v<utp::acceptor>);
static_assert(std::is_nothrow_move_constructible_v<utp::multiplexer>);
static_assert(std::is_nothrow_move_assignable_v<utp::multiplexer>);

BOOST_AUTO_TEST_CASE(multiplexer_and_acceptor, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::multiplexer a(ioc, loopback_v4());
    const auto port = a.local_endpoint().port();
    utp::multiplexer b(std::move(a));
    BOOST_TEST(!a.is_open());
    BOOST_TEST(b.is_open());
    BOOST_TEST(b.local_endpoint().port() == port);
    error_code ec;
    a.local_endpoint(ec);
    BOOST_TEST(ec == asio::error::bad_descriptor);
    BOOST_CHECK_THROW(a.local_endpoint(), boost::system::system_error);
    a.close();
    a.cancel();
    BOOST_TEST(a.stats().datagrams_received == 0u);
    BOOST_TEST((a.get_executor() == asio::any_io_executor(ioc.get_executor())));
    std::optional<error_code> raw;
    std::array<char, 8> buf;
    udp::endpoint from;
    a.async_receive_from(asio::buffer(buf), from, [&](error_code e, std::size_t) { raw = e; });

    utp::acceptor acc1(b);
    utp::acceptor acc2(std::move(acc1));
    BOOST_TEST(!acc1.is_open());
    BOOST_TEST(acc2.is_open());
    acc1.local_endpoint(ec);
    BOOST_TEST(ec == asio::error::bad_descriptor);
    acc1.close();
    acc1.cancel();
    BOOST_TEST(!acc1.get_multiplexer().is_open());
    std::optional<error_code> accepted_on_moved_from;
    acc1.async_accept([&](error_code e, utp::socket) { accepted_on_moved_from = e; });
    require_run_until(
        ioc, [&] { return raw && accepted_on_moved_from; }, 5s, "operations on moved-from objects");
    BOOST_TEST(*raw == asio::error::bad_descriptor, raw->message());
    BOOST_TEST(*accepted_on_moved_from == asio::error::bad_descriptor,
               accepted_on_moved_from->message());

    // Move-assigned back and forth, then used: the moved-to objects work.
    a = std::move(b);
    BOOST_TEST(a.is_open());
    utp::multiplexer client(ioc, loopback_v4());
    utp::socket c(client);
    std::optional<utp::socket> srv;
    std::optional<error_code> cc;
    acc2.async_accept([&](error_code e, utp::socket s) {
        BOOST_TEST(!e, e.message());
        srv.emplace(std::move(s));
    });
    c.async_connect(acc2.local_endpoint(), [&](error_code e) { cc = e; });
    require_run_until(
        ioc, [&] { return srv && cc; }, 5s, "accept on the moved-to acceptor");
    BOOST_TEST(!*cc);
}

BOOST_AUTO_TEST_CASE(socket, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client(ioc, loopback_v4());
    utp::socket first(client);
    utp::socket srv(ioc);
    accept_and_connect(ioc, acc, srv, first);
    utp::socket moved(std::move(first));
    BOOST_TEST(!first.is_open());
    BOOST_TEST(moved.is_open());
    error_code ec;
    first.remote_endpoint(ec);
    BOOST_TEST(ec == asio::error::not_connected);
    first.local_endpoint(ec);
    BOOST_TEST(ec == asio::error::bad_descriptor);
    first.available(ec);
    BOOST_TEST(ec == asio::error::not_connected);
    first.close();
    first.cancel();
    first.shutdown(asio::socket_base::shutdown_send, ec);
    BOOST_TEST(ec == asio::error::not_connected);
    BOOST_TEST(first.stats().bytes_sent == 0u);
    std::optional<error_code> r;
    std::array<char, 4> buf;
    first.async_read_some(asio::buffer(buf), [&](error_code e, std::size_t) { r = e; });
    require_run_until(
        ioc, [&] { return r.has_value(); }, 5s, "read on a moved-from socket");
    BOOST_TEST(*r == asio::error::not_connected, r->message());

    // The moved-to socket carries the connection; the moved-from one dials again.
    const std::string msg = "after the move";
    std::string got(msg.size(), '\0');
    std::optional<error_code> w, rd;
    asio::async_write(moved, asio::buffer(msg), [&](error_code e, std::size_t) { w = e; });
    asio::async_read(srv, asio::buffer(got), [&](error_code e, std::size_t) { rd = e; });
    std::optional<error_code> a2, c2;
    utp::socket srv2(ioc);
    acc.async_accept(srv2, [&](error_code e) { a2 = e; });
    first.async_connect(acc.local_endpoint(), [&](error_code e) { c2 = e; });
    require_run_until(
        ioc, [&] { return w && rd && a2 && c2; }, 5s, "moved-to and reused sockets");
    BOOST_TEST(!*w);
    BOOST_TEST(!*rd);
    BOOST_TEST(got == msg);
    BOOST_TEST(!*c2, c2->message());
    BOOST_TEST(first.is_open());
}

BOOST_AUTO_TEST_SUITE_END()
