//
// test/asio/composed_timeouts_common.hpp — the harness of suite `composed_timeouts` (split
// over two files so that its heavy instantiations compile in parallel): stop a pending
// composed operation by a timer race or a cancellation slot, and check how it ended.
//
#ifndef UTP_TEST_ASIO_COMPOSED_TIMEOUTS_COMMON_HPP
#define UTP_TEST_ASIO_COMPOSED_TIMEOUTS_COMMON_HPP

#include "websocket_common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <optional>

namespace utp_test::timeouts {

using namespace boost::asio::experimental::awaitable_operators;

enum class stop_by { timer_race, slot };

inline std::ostream& operator<<(std::ostream& os, stop_by h) {
    return os << (h == stop_by::timer_race ? "op || timer" : "cancellation slot, terminal");
}

constexpr auto stop_after = 200ms;

inline double milliseconds(steady::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

/// Run the client's and the server's set-up coroutines to completion.
template <class Client, class Server>
inline void set_up(compose_env& env, Client client, Server server, const std::string& what) {
    tasks t;
    t.spawn(env.ioc, std::move(client), what + ": client set-up");
    t.spawn(env.ioc, std::move(server), what + ": server set-up");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 10s, what + ": set-up", t);
}

/** Start an operation that cannot complete, through `start(token)`, and stop it after
    200 ms as `how` says. It must complete with operation_aborted, and only then. */
template <class Start>
inline void stop_pending(compose_env& env, stop_by how, Start start, const std::string& what) {
    BOOST_TEST_MESSAGE(what << ", stopped by " << how);
    std::optional<error_code> result;
    const auto t0 = steady::now();
    steady::time_point done;
    if (how == stop_by::timer_race) {
        tasks t;
        t.spawn(
            env.ioc,
            [&]() -> asio::awaitable<void> {
                asio::steady_timer timer(env.ioc, stop_after);
                auto op = [&]() -> asio::awaitable<void> {
                    auto r = co_await start(asio::as_tuple(asio::use_awaitable));
                    result = std::get<0>(r);
                };
                auto winner = co_await (op() || timer.async_wait(asio::use_awaitable));
                done = steady::now();
                EXPECT(winner.index() == 1, "the operation completed before the timer");
            },
            what);
        require_run_until(
            env.ioc, [&] { return t.all_done(); }, 5s, what, t);
    } else {
        asio::cancellation_signal sig;
        bool emitted = false;
        start(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, auto&&...) {
            result = ec;
            done = steady::now();
        }));
        asio::steady_timer timer(env.ioc, stop_after);
        timer.async_wait([&](error_code ec) {
            if (ec) return; // destroyed: the operation completed on its own
            emitted = true;
            if (!result) sig.emit(asio::cancellation_type::terminal);
        });
        require_run_until(
            env.ioc, [&] { return result.has_value(); }, 5s, what);
        BOOST_TEST(emitted, "the operation completed before it was cancelled");
    }
    BOOST_REQUIRE(result.has_value());
    BOOST_TEST(*result == error_code(asio::error::operation_aborted), result->message());
    BOOST_TEST((done - t0 >= stop_after), "completed after " << milliseconds(done - t0) << " ms");
    BOOST_TEST_MESSAGE("completed " << milliseconds(done - t0) << " ms after the start");
}

/// Close both µTP sockets (gracefully) and require that nothing is left running.
template <class ClientStream, class ServerStream>
inline void close_both(compose_env& env, ClientStream& client, ServerStream& server,
                       const std::string& what) {
    beast::get_lowest_layer(client).close();
    beast::get_lowest_layer(server).close();
    BOOST_TEST(!beast::get_lowest_layer(client).is_open());
    BOOST_TEST(!beast::get_lowest_layer(server).is_open());
    require_run_returns(env.ioc, 10s, what + ": after closing both sides");
}

/// Read what has arrived at `server` so far (at least one byte).
template <class Stream>
std::string read_some(compose_env& env, Stream& server, const std::string& what) {
    std::string got(4096, '\0');
    std::optional<error_code> r;
    std::size_t n = 0;
    server.async_read_some(asio::buffer(got), [&](error_code ec, std::size_t k) {
        r = ec;
        n = k;
    });
    require_run_until(
        env.ioc, [&] { return r.has_value(); }, 5s, what + ": the peer reads");
    BOOST_TEST(!*r, r->message());
    got.resize(n);
    return got;
}

/// Read an HTTP request at `server`; it must be for `target`.
template <class Stream>
http::request<http::string_body> read_request(compose_env& env, Stream& server,
                                              const std::string& what) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    std::optional<error_code> r;
    http::async_read(server, buf, req, [&](error_code ec, std::size_t) { r = ec; });
    require_run_until(
        env.ioc, [&] { return r.has_value(); }, 5s, what + ": the peer reads the request");
    BOOST_TEST(!*r, r->message());
    return req;
}

} // namespace utp_test::timeouts

/// Two test cases per operation: stopped by a timer race, and by a cancellation slot.
#define UTP_STOPPED_CASES(name, ...)                                                               \
    BOOST_AUTO_TEST_CASE(name##_timer_race, *utf::timeout(30)) {                                   \
        __VA_ARGS__(stop_by::timer_race);                                                          \
    }                                                                                              \
    BOOST_AUTO_TEST_CASE(name##_cancellation_slot, *utf::timeout(30)) {                            \
        __VA_ARGS__(stop_by::slot);                                                                \
    }

#endif
