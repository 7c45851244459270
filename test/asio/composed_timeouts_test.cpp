// Suite `composed_timeouts`: operations composed over µTP (Asio SSL, Beast HTTP, Beast
// WebSocket), each pending against a peer that accepted the µTP connection but never
// answers at that layer, are stopped after 200 ms in both ways a caller bounds them: raced
// with a timer (awaitable operator ||) and cancelled through a bound cancellation slot
// (terminal). Each case checks that the operation completed with operation_aborted, and
// only once stopped; that the peer did receive what the operation sent; and that after
// closing both µTP sockets the io_context runs out of work (nothing left dangling).
//  - tls_handshake: the client's TLS handshake (the peer is silent after the ClientHello).
//  - tls_read: a TLS read after the handshake.
//  - http_read_plain / _tls: beast::http::async_read of a response to a request sent.
//  - ws_handshake_plain / _tls: the WebSocket upgrade (the peer never answers it).
//  - ws_read_plain / _tls: a WebSocket read after the upgrade.
//  - healthy_after_timeout: a WebSocket-over-TLS read lost to a timer, then a new connection
//    through the same multiplexer and acceptor handshakes, echoes and closes cleanly.
#include "websocket_common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <optional>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

enum class stop_by { timer_race, slot };

std::ostream& operator<<(std::ostream& os, stop_by h) {
    return os << (h == stop_by::timer_race ? "op || timer" : "cancellation slot, terminal");
}

constexpr auto stop_after = 200ms;

double milliseconds(steady::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

/// Run the client's and the server's set-up coroutines to completion.
template <class Client, class Server>
void set_up(compose_env& env, Client client, Server server, const std::string& what) {
    tasks t;
    t.spawn(env.ioc, std::move(client), what + ": client set-up");
    t.spawn(env.ioc, std::move(server), what + ": server set-up");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 10s, what + ": set-up", t);
}

/** Start an operation that cannot complete, through `start(token)`, and stop it after
    200 ms as `how` says. It must complete with operation_aborted, and only then. */
template <class Start>
void stop_pending(compose_env& env, stop_by how, Start start, const std::string& what) {
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
void close_both(compose_env& env, ClientStream& client, ServerStream& server,
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

// The peer accepts µTP and then says nothing: the ClientHello goes unanswered.
void tls_handshake(stop_by how) {
    compose_env env;
    auto client = env.client_stream<tls_socket>();
    auto server = env.server_stream<utp::socket>();
    set_up(
        env,
        [&]() -> asio::awaitable<void> {
            co_await client.next_layer().async_connect(env.server_endpoint(), asio::use_awaitable);
            set_client_host(client, "localhost");
        },
        [&]() -> asio::awaitable<void> { co_await answer(server, env.acc); }, "TLS handshake");
    stop_pending(
        env, how,
        [&](auto token) { return client.async_handshake(ssl::stream_base::client, token); },
        "TLS handshake");
    // The ClientHello did go out: a TLS handshake record (content type 22).
    const std::string hello = read_some(env, server, "TLS handshake");
    BOOST_TEST(hello.size() > 5u);
    BOOST_TEST(hello.substr(0, 1) == std::string(1, '\x16'));
    close_both(env, client, server, "TLS handshake");
}

// TLS is up, the peer never sends application data.
void tls_read(stop_by how) {
    compose_env env;
    auto client = env.client_stream<tls_socket>();
    auto server = env.server_stream<tls_socket>();
    set_up(env, dial(client, env.server_endpoint()), answer(server, env.acc), "TLS read");
    std::array<char, 1024> buf;
    stop_pending(
        env, how, [&](auto token) { return client.async_read_some(asio::buffer(buf), token); },
        "TLS read");
    close_both(env, client, server, "TLS read");
}

// The request reaches the peer, which reads it and never responds.
template <class Transport>
void http_read(stop_by how) {
    const std::string what = std::string("HTTP read over ") + transport_name<Transport>();
    compose_env env;
    auto client = env.client_stream<Transport>();
    auto server = env.server_stream<Transport>();
    set_up(
        env,
        [&]() -> asio::awaitable<void> {
            co_await dial(client, env.server_endpoint());
            http::request<http::empty_body> req(http::verb::get, "/never", 11);
            req.set(http::field::host, "localhost");
            co_await http::async_write(client, req, asio::use_awaitable);
        },
        answer(server, env.acc), what);
    const auto req = read_request(env, server, what);
    BOOST_TEST(req.target() == "/never");
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    stop_pending(
        env, how, [&](auto token) { return http::async_read(client, buf, res, token); }, what);
    close_both(env, client, server, what);
}

// The peer is connected at the transport (and TLS) level but never answers the upgrade.
template <class Next>
void ws_handshake(stop_by how) {
    using WS = websocket::stream<Next>;
    const std::string what = std::string("WebSocket handshake over ") + transport_name<Next>();
    compose_env env;
    auto client = env.client_stream<WS>();
    auto server = env.server_stream<Next>();
    set_up(env, dial(client.next_layer(), env.server_endpoint()), answer(server, env.acc), what);
    stop_pending(
        env, how, [&](auto token) { return client.async_handshake("localhost", "/", token); },
        what);
    // The upgrade request did go out.
    const auto req = read_request(env, server, what);
    BOOST_TEST(websocket::is_upgrade(req));
    close_both(env, client, server, what);
}

// The WebSocket is up; the peer never sends a message.
template <class Next>
void ws_read(stop_by how) {
    using WS = websocket::stream<Next>;
    const std::string what = std::string("WebSocket read over ") + transport_name<Next>();
    compose_env env;
    auto client = env.client_stream<WS>();
    auto server = env.server_stream<WS>();
    set_up(env, ws_dial(client, env.server_endpoint()), ws_answer(server, env.acc), what);
    beast::flat_buffer buf;
    stop_pending(
        env, how, [&](auto token) { return client.async_read(buf, token); }, what);
    BOOST_TEST(buf.size() == 0u);
    close_both(env, client, server, what);
}

} // namespace

BOOST_AUTO_TEST_SUITE(composed_timeouts)

#define UTP_STOPPED_CASES(name, ...)                                                               \
    BOOST_AUTO_TEST_CASE(name##_timer_race, *utf::timeout(30)) {                                   \
        __VA_ARGS__(stop_by::timer_race);                                                          \
    }                                                                                              \
    BOOST_AUTO_TEST_CASE(name##_cancellation_slot, *utf::timeout(30)) {                            \
        __VA_ARGS__(stop_by::slot);                                                                \
    }

UTP_STOPPED_CASES(tls_handshake, tls_handshake)
UTP_STOPPED_CASES(tls_read, tls_read)
UTP_STOPPED_CASES(http_read_plain, http_read<utp::socket>)
UTP_STOPPED_CASES(http_read_tls, http_read<tls_socket>)
UTP_STOPPED_CASES(ws_handshake_plain, ws_handshake<utp::socket>)
UTP_STOPPED_CASES(ws_handshake_tls, ws_handshake<tls_socket>)
UTP_STOPPED_CASES(ws_read_plain, ws_read<utp::socket>)
UTP_STOPPED_CASES(ws_read_tls, ws_read<tls_socket>)

// The multiplexer and the acceptor are still healthy after an operation lost to a timer:
// a new connection through them works end to end.
BOOST_AUTO_TEST_CASE(healthy_after_timeout, *utf::timeout(60)) {
    using WS = websocket::stream<tls_socket>;
    compose_env env;
    {
        auto client = env.client_stream<WS>();
        auto server = env.server_stream<WS>();
        set_up(env, ws_dial(client, env.server_endpoint()), ws_answer(server, env.acc),
               "first connection");
        beast::flat_buffer buf;
        stop_pending(
            env, stop_by::timer_race, [&](auto token) { return client.async_read(buf, token); },
            "WebSocket read over TLS over uTP");
        close_both(env, client, server, "first connection");
    }
    auto client = env.client_stream<WS>();
    auto server = env.server_stream<WS>();
    std::optional<error_code> server_end, close_result;
    const std::string msg = make_message(42, 300000, false);
    tasks t;
    spawn_echo_server(t, env, server, server_end);
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            co_await ws_dial(client, env.server_endpoint());
            client.binary(true);
            co_await client.async_write(asio::buffer(msg), asio::use_awaitable);
            beast::flat_buffer buf;
            co_await client.async_read(buf, asio::use_awaitable);
            EXPECT(beast::buffers_to_string(buf.data()) == msg, "echo differs");
            auto [ec] = co_await client.async_close(websocket::close_code::normal,
                                                    asio::as_tuple(asio::use_awaitable));
            close_result = ec;
        },
        "client");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 20s, "second connection", t);
    require_clean_client_close(env.ioc, close_result, server_end, client, server,
                               "the second connection");
}

BOOST_AUTO_TEST_SUITE_END()
