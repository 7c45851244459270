// Suite `threads` (run under ThreadSanitizer by .ci/run): multiplexers on several threads.
//  - two io_contexts, each on its own thread with its own multiplexers, transferring
//    within themselves and across to each other at the same time;
//  - one io_context run by two threads, each multiplexer (and everything on it) on its own
//    strand.
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

} // namespace

BOOST_AUTO_TEST_SUITE(threads)

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
