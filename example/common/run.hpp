//
// example/common/run.hpp — the coroutine scaffolding the TLS / Beast examples share: a
// timeout raced against an operation, a client's whole run raced against a deadline, and
// a server's accept loop (one coroutine per connection, all on one UDP port).
//
#ifndef UTP_EXAMPLE_RUN_HPP
#define UTP_EXAMPLE_RUN_HPP

#include "args.hpp"

#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes the allocation and deallocation of an asio awaitable's coroutine frame
// (awaitable_frame_base's own operator new/delete) for a mismatched pair once it inlines
// them: a false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace utp_example {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

/// Throw `ec` as "what: message", so that every error says what was being done (and
/// not where in Boost it was found, as system_error's text does).
inline void check(const boost::system::error_code& ec, const std::string& what) {
    if (ec) throw std::runtime_error(what + ": " + ec.message());
}

/// Completes after `d`.
inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
}

/** Await `op` unless `d` passes first; then `op` is cancelled and the result is
    `timed_out`. `op` reports errors in its result (`asio::as_tuple`) rather than throwing:
    `a || b` waits for the first to *succeed*, so a throwing `op` would wait for the timer.

    @code
    auto [ec, n] = co_await within(30s, http::async_read(s, b, req, as_tuple(use_awaitable)));
    @endcode
*/
template <class... T>
asio::awaitable<std::tuple<boost::system::error_code, T...>>
within(std::chrono::steady_clock::duration d,
       asio::awaitable<std::tuple<boost::system::error_code, T...>> op) {
    auto r = co_await (std::move(op) || sleep_for(d));
    if (r.index() == 1) co_return std::tuple{make_error_code(asio::error::timed_out), T{}...};
    co_return std::get<0>(std::move(r));
}

/// A completion handler for co_spawn that reports an escaped exception as `program: what`.
inline auto report_errors(std::string program) {
    return [program = std::move(program)](std::exception_ptr e) {
        try {
            if (e) std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << program << ": " << x.what() << "\n";
        }
    };
}

/// The first endpoint `host`:`port` resolves to.
inline asio::awaitable<asio::ip::udp::endpoint> resolve(const std::string& host,
                                                        const std::string& port) {
    asio::ip::udp::resolver resolver(co_await asio::this_coro::executor);
    auto results = co_await resolver.async_resolve(host, port, asio::use_awaitable);
    co_return results.begin()->endpoint();
}

/** Run a client to completion on a fresh io_context, or give up after `limit`.
    `client` returns the exit status; an exception it throws is reported, status 1. */
inline int run_client(const std::string& program, asio::awaitable<int> client,
                      std::chrono::steady_clock::duration limit) {
    // `a || b` waits for the first to *succeed*: a client that throws must not wait for
    // the deadline, so its exception is kept aside and it "succeeds" with status 1.
    std::exception_ptr error;
    auto guarded = [](asio::awaitable<int> c, std::exception_ptr& error) -> asio::awaitable<int> {
        try {
            co_return co_await std::move(c);
        } catch (...) {
            error = std::current_exception();
            co_return 1;
        }
    };

    asio::io_context ioc;
    int status = 1;
    asio::co_spawn(ioc, guarded(std::move(client), error) || sleep_for(limit),
                   [&](std::exception_ptr, std::variant<int, std::monostate> r) {
                       if (r.index() == 1) {
                           std::cerr << program << ": timed out\n";
                           // Stop at once: a graceful close would linger while the peer
                           // still sends (up to the linger time, ~30 s).
                           ioc.stop();
                           return;
                       }
                       status = std::get<0>(r);
                       if (error) report_errors(program)(error);
                   });
    ioc.run();
    return status;
}

/** Serve on `address`:`port` (0 picks a free port) until SIGINT or SIGTERM: accept every
    connection on the one UDP port and run `session(socket)` as its own coroutine.

    Prints "PROGRAM: listening on ADDRESS port N" first, flushed, so that a script can
    start the server on port 0 and read the port it got.
*/
template <class Session>
int serve(const std::string& program, const std::string& address, const std::string& port,
          Session session) {
    asio::io_context ioc;
    // One multiplexer: the UDP socket every connection shares, told apart by connection id.
    utp::multiplexer mux(ioc, {asio::ip::make_address(address), parse_port(port)});
    utp::acceptor acceptor(mux);
    const auto local = acceptor.local_endpoint();
    std::cout << program << ": listening on " << local.address() << " port " << local.port()
              << std::endl;

    int status = 0;
    auto listen = [&]() -> asio::awaitable<void> {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted) co_return; // closed by the signal below
            check(ec, "accept");
            // Errors of a session name its peer: "program: 127.0.0.1:5555: what".
            boost::system::error_code ignored; // not to end the server, should it be gone
            std::ostringstream who;
            who << program << ": " << socket.remote_endpoint(ignored);
            asio::co_spawn(ioc, session(std::move(socket)), report_errors(who.str()));
        }
    };
    // A server that no longer accepts is of no use: an accept error ends the program.
    asio::co_spawn(ioc, listen(), [&](std::exception_ptr e) {
        if (!e) return;
        report_errors(program)(e);
        status = 1;
        ioc.stop();
    });

    // Keep-alive sessions may idle for a long time: on a signal, stop outright rather than
    // wait for them; their coroutines are destroyed with the io_context.
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
        acceptor.close();
        ioc.stop();
    });
    ioc.run();
    return status;
}

} // namespace utp_example

#endif
