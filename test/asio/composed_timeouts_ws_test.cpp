// Suite `composed_timeouts`, its WebSocket half (see composed_timeouts_test.cpp):
//  - ws_handshake_plain / _tls: the WebSocket upgrade (the peer never answers it).
//  - ws_read_plain / _tls: a WebSocket read after the upgrade.
//  - healthy_after_timeout: a WebSocket-over-TLS read lost to a timer, then a new connection
//    through the same multiplexer and acceptor handshakes, echoes and closes cleanly.
#include "composed_timeouts_common.hpp"

using namespace utp_test;
using namespace utp_test::timeouts;
namespace utf = boost::unit_test;

namespace {

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
