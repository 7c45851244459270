// Suite `threads` (run under ThreadSanitizer by .ci/run): multiplexers on several threads.
//  - two io_contexts, each on its own thread with its own multiplexers, transferring
//    within themselves and across to each other at the same time;
//  - one io_context run by two threads, each multiplexer (and everything on it) on its own
//    strand;
//  - the usual thread-pool server: one io_context, run() on 4 threads, no strands, 200
//    connections whose both ends share one multiplexer, each echoing its own tagged stream
//    (before the engine serialised itself: heap corruption or a hang);
//  - operations started from threads that do not run the io_context, with use_future:
//    one io thread and the main thread, then 2 io threads and 8 client threads.
// Boost.Test is not thread-safe: the worker threads record, the main thread checks.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <iostream>
#include <optional>
#include <thread>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

/// Accept `n` connections and echo each one.
asio::awaitable<void> echo_server(utp::acceptor& acc, std::size_t n, tasks& t) {
    for (std::size_t i = 0; i < n; ++i) {
        utp::socket s = co_await acc.async_accept(asio::use_awaitable);
        t.spawn(
            s.get_executor(),
            [](utp::socket s) -> asio::awaitable<void> { co_await echo(s); }(std::move(s)), "echo");
    }
}

/// Connect through `mux` to `server`, send stream `tag` of `size` bytes and check it comes
/// back whole.
asio::awaitable<void> echo_client(utp::multiplexer& mux, udp::endpoint server, std::uint64_t tag,
                                  std::uint64_t size) {
    utp::socket s(mux);
    co_await s.async_connect(server, asio::use_awaitable);
    co_await (send_pattern(s, tag, size) && receive_pattern(s, tag, size));
}

/// One thread's world: an io_context, an acceptor, a client multiplexer.
struct node {
    asio::io_context ioc;
    utp::acceptor acc{ioc, loopback_v4()};
    utp::multiplexer client_mux{ioc, loopback_v4()};
    tasks t;
    run_result result = run_result::timed_out;
    bool run_returned = false;
    double seconds = 0;
};

/// Run `ioc` on `n` threads until `done()` holds or `limit` passes, then let them run on
/// until `run()` returns by itself (every connection closed) or `drain` passes.
struct pool_run {
    run_result result = run_result::timed_out;
    bool returned = false;
    double seconds = 0;
};
template <class Pred>
pool_run run_on_threads(asio::io_context& ioc, int n, Pred done, steady::duration limit,
                        steady::duration drain) {
    std::vector<run_result> results(static_cast<std::size_t>(n), run_result::timed_out);
    const auto t0 = steady::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            results[static_cast<std::size_t>(i)] = run_until(ioc, done, limit);
            if (done()) ioc.run_for(drain);
        });
    for (auto& t : threads)
        t.join();
    pool_run r;
    r.seconds = std::chrono::duration<double>(steady::now() - t0).count();
    r.result = done() ? run_result::done : results[0];
    r.returned = ioc.stopped();
    return r;
}

/// The next read ends the stream. Its error travels through a promise of its own, not
/// use_future's exception: ThreadSanitizer cannot see the reference count of an
/// exception_ptr released on another thread (inside libstdc++).
void expect_eof(utp::socket& s) {
    auto b = std::make_shared<std::array<std::uint8_t, 1>>();
    auto p = std::make_shared<std::promise<error_code>>();
    auto f = p->get_future();
    s.async_read_some(asio::buffer(*b), [b, p](error_code ec, std::size_t) { p->set_value(ec); });
    const error_code ec = get(std::move(f), 10s, "read to eof");
    EXPECT(ec == asio::error::eof, "after shutdown: " << ec.message());
}

} // namespace

BOOST_AUTO_TEST_SUITE(threads)

// One io_context, run() on 4 threads, no strand: the engine shared by every socket must
// serialise itself. Each client sends its own stream and must get back exactly it.
BOOST_AUTO_TEST_CASE(thread_pool_tagged_echoes, *utf::timeout(180)) {
    const std::size_t conns = scaled(200, 48);
    const std::uint64_t size = scaled(256 * 1024, 32 * 1024);
    asio::io_context ioc(4);
    utp::acceptor acc(ioc, loopback_v4());
    // The clients dial from the acceptor's own port: both ends of all 200 connections, 400
    // sockets, share one multiplexer.
    utp::multiplexer& mux = acc.get_multiplexer();
    tasks t;
    t.spawn(ioc, echo_server(acc, conns, t), "accept loop");
    for (std::size_t i = 0; i < conns; ++i)
        t.spawn(ioc, echo_client(mux, acc.local_endpoint(), 1000 + i, size), "client");
    const pool_run r = run_on_threads(
        ioc, 4, [&] { return t.started() == 2 * conns + 1 && t.all_done(); }, 120s, 30s);
    t.report();
    BOOST_TEST(r.result == run_result::done, r.result);
    BOOST_TEST(t.failures().empty());
    BOOST_TEST(r.returned, "run() did not return once every connection had closed");
    BOOST_TEST(mux.stats().protocol.connections_accepted == conns);
    std::cout << "threads: " << conns << " echoes of " << size << " bytes on 4 threads in "
              << r.seconds << " s" << std::endl;
}

// An io_context promised to Asio as single-threaded (no locking of its I/O objects): the
// engine drops its lock too, and everything still works on the one thread.
BOOST_AUTO_TEST_CASE(single_threaded_concurrency_hint, *utf::timeout(60)) {
    asio::io_context ioc(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    tasks t;
    t.spawn(ioc, echo_server(acc, 4, t), "accept loop");
    for (std::size_t i = 0; i < 4; ++i)
        t.spawn(ioc, echo_client(client_mux, acc.local_endpoint(), 500 + i, 1 << 20), "client");
    require_run_until(
        ioc, [&] { return t.all_done(); }, 30s, "echoes without locks", t);
    require_run_returns(ioc, 10s, "single-threaded hint");
}

// run() on one thread; the main thread starts every operation itself (no post), with
// use_future, and waits: the engine sees initiations from a thread that does not run it.
BOOST_AUTO_TEST_CASE(use_future_from_a_foreign_thread, *utf::timeout(120)) {
    const int rounds = static_cast<int>(scaled(1000, 200));
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    tasks t;
    t.spawn(ioc, echo_server(acc, 1, t), "accept loop");
    auto guard = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run_for(100s); });
    std::string failure;
    try {
        utp::socket s(client_mux);
        get(s.async_connect(acc.local_endpoint(), asio::use_future), 10s, "connect");
        std::array<std::uint8_t, 64> out, in;
        for (int i = 0; i < rounds; ++i) {
            pattern(7).fill(std::uint64_t(i) * out.size(), out);
            get(asio::async_write(s, asio::buffer(out), asio::use_future), 10s, "write");
            get(asio::async_read(s, asio::buffer(in), asio::use_future), 10s, "read");
            EXPECT(in == out, "round " << i << ": the echo differs");
        }
        s.shutdown(asio::socket_base::shutdown_send);
        expect_eof(s);
    } catch (const std::exception& e) {
        failure = e.what();
    }
    guard.reset();
    io.join();
    BOOST_TEST(failure.empty(), failure);
    t.report();
    BOOST_TEST(ioc.stopped(), "run() did not return once the connection had closed");
}

// Two threads run the io_context; eight other threads each drive their own socket (all on
// one multiplexer) with use_future.
BOOST_AUTO_TEST_CASE(use_future_from_eight_threads, *utf::timeout(120)) {
    const int rounds = static_cast<int>(scaled(300, 60));
    const std::size_t clients = 8;
    asio::io_context ioc(2);
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    tasks t;
    t.spawn(ioc, echo_server(acc, clients, t), "accept loop");
    auto guard = asio::make_work_guard(ioc);
    std::vector<std::thread> io;
    for (int i = 0; i < 2; ++i)
        io.emplace_back([&] { ioc.run_for(100s); });
    outcomes out;
    std::vector<std::thread> users;
    for (std::size_t c = 0; c < clients; ++c)
        users.emplace_back([&, c] {
            try {
                utp::socket s(client_mux);
                get(s.async_connect(acc.local_endpoint(), asio::use_future), 10s, "connect");
                std::vector<std::uint8_t> data(1000 + 100 * c), back(data.size());
                for (int i = 0; i < rounds; ++i) {
                    pattern(2000 + c).fill(std::uint64_t(i) * data.size(), data);
                    get(asio::async_write(s, asio::buffer(data), asio::use_future), 10s, "write");
                    get(asio::async_read(s, asio::buffer(back), asio::use_future), 10s, "read");
                    EXPECT(back == data, "client " << c << " round " << i << ": foreign bytes");
                }
                s.shutdown(asio::socket_base::shutdown_send);
                expect_eof(s);
                out.ok();
            } catch (...) {
                out.fail_current("client " + std::to_string(c));
            }
        });
    for (auto& u : users)
        u.join();
    guard.reset();
    for (auto& i : io)
        i.join();
    out.report();
    t.report();
    BOOST_TEST(out.done() == clients);
    BOOST_TEST(ioc.stopped(), "run() did not return once every connection had closed");
}

BOOST_AUTO_TEST_CASE(two_multiplexers_on_two_threads, *utf::timeout(120)) {
    const std::uint64_t local = scaled(32 << 20, 8 << 20), cross = scaled(16 << 20, 4 << 20);
    node a, b;
    node* nodes[2] = {&a, &b};
    // Everything is set up before the threads start; from then on each node's objects are
    // touched by its own thread only.
    for (int i = 0; i < 2; ++i) {
        node& me = *nodes[i];
        node& other = *nodes[1 - i];
        // Two connections to accept: one from this node's client, one from the other node.
        me.t.spawn(me.ioc, echo_server(me.acc, 2, me.t), "accept loop");
        me.t.spawn(me.ioc, echo_client(me.client_mux, me.acc.local_endpoint(), 10 + i, local),
                   "local client");
        me.t.spawn(me.ioc, echo_client(me.client_mux, other.acc.local_endpoint(), 20 + i, cross),
                   "cross client");
    }
    std::vector<std::thread> threads;
    for (node* n : nodes)
        threads.emplace_back([n] {
            const auto t0 = steady::now();
            n->result = run_until(
                n->ioc, [n] { return n->t.started() == 5 && n->t.all_done(); }, 90s);
            n->seconds = std::chrono::duration<double>(steady::now() - t0).count();
            if (n->result != run_result::done) return;
            n->ioc.run_for(15s); // until the connections have closed
            n->run_returned = n->ioc.stopped();
        });
    for (auto& th : threads)
        th.join();
    for (int i = 0; i < 2; ++i) {
        BOOST_TEST_CONTEXT("node " << i) {
            nodes[i]->t.report();
            BOOST_TEST(nodes[i]->result == run_result::done, nodes[i]->result);
            BOOST_TEST(nodes[i]->t.started() == 5u);
            BOOST_TEST(nodes[i]->run_returned);
            std::cout << "threads: node " << i << " done in " << nodes[i]->seconds << " s"
                      << std::endl;
        }
    }
}

BOOST_AUTO_TEST_CASE(strand_multiplexers_on_a_thread_pool, *utf::timeout(120)) {
    const std::uint64_t size = scaled(8 << 20, 4 << 20);
    const std::size_t conns = 4;
    asio::io_context ioc(2);
    auto server_strand = asio::make_strand(ioc);
    auto client_strand = asio::make_strand(ioc);
    // Each multiplexer runs on its strand; sockets and coroutines use that strand too.
    utp::acceptor acc(server_strand, loopback_v4());
    utp::multiplexer client_mux(client_strand, loopback_v4());
    tasks t;
    t.spawn(server_strand, echo_server(acc, conns, t), "accept loop");
    for (std::size_t i = 0; i < conns; ++i)
        t.spawn(client_strand, echo_client(client_mux, acc.local_endpoint(), 30 + i, size),
                "client");
    std::atomic<bool> worker_done{false};
    std::thread worker([&] {
        ioc.run_for(90s);
        worker_done = true;
    });
    const run_result r = run_until(
        ioc, [&] { return t.started() == 2 * conns + 1 && t.all_done(); }, 90s);
    if (r != run_result::done) ioc.stop();
    worker.join();
    t.report();
    BOOST_TEST(r == run_result::done, r);
    BOOST_TEST(t.started() == 2 * conns + 1);
}

BOOST_AUTO_TEST_SUITE_END()
