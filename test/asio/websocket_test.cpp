// Suite `websocket`: Beast's websocket::stream over µTP and over TLS over µTP (every case
// runs on both), on real loopback sockets.
//  - echo_messages: handshake, then text and binary messages of 1, 125, 126, 65535, 65536
//    bytes, 1 MiB and 16 MiB (the frame-length encodings' edges), echoed byte-exact with
//    their kind; prints the throughput of the largest.
//  - ping_pong: the client's ping comes back as a pong with its payload, the server's ping
//    reaches the client, and messages keep flowing around both.
//  - close_by_client / close_by_server: the closer's async_close succeeds, the other side's
//    pending read ends with error::closed and the close code and reason; both µTP sockets
//    are closed and the io_context runs out of work (every connection finished).
//  - suggested_timeouts: Beast's suggested timeout options on both sides do not misfire
//    over a handshake, an exchange and a close.
//  - handshake_timeout: a client that never sends the upgrade request: the server's accept
//    fails with beast::error::timeout and Beast's close of the µTP socket reaches the client.
#include "websocket_common.hpp"

#include <iostream>
#include <optional>

using namespace utp_test;
namespace utf = boost::unit_test;

namespace {

constexpr std::uint64_t max_message = 64u << 20;

struct event {
    websocket::frame_type kind;
    std::string payload;
    bool operator==(const event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const event& e) {
    const char* k = e.kind == websocket::frame_type::ping   ? "ping"
                    : e.kind == websocket::frame_type::pong ? "pong"
                                                            : "close";
    return os << k << "('" << e.payload << "')";
}

std::string describe(const std::vector<event>& v) {
    std::ostringstream os;
    for (const auto& e : v)
        os << e << ' ';
    return os.str();
}

double milliseconds(steady::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

template <class WS>
void record_control_frames(WS& ws, std::vector<event>& into) {
    ws.control_callback([&into](websocket::frame_type kind, beast::string_view payload) {
        into.push_back({kind, std::string(payload)});
    });
}

/// Write `msg` as text or binary, read the echo, and check it is the same message.
template <class WS>
asio::awaitable<void> round_trip(WS& ws, const std::string& msg, bool text) {
    ws.text(text);
    co_await ws.async_write(asio::buffer(msg), asio::use_awaitable);
    beast::flat_buffer buf;
    const std::size_t n = co_await ws.async_read(buf, asio::use_awaitable);
    EXPECT(n == msg.size(), "echo of " << msg.size() << " bytes has " << n);
    EXPECT(ws.got_text() == text && ws.got_binary() == !text,
           "echo of a " << (text ? "text" : "binary") << " message came back as "
                        << (ws.got_text() ? "text" : "binary"));
    const std::string_view got(static_cast<const char*>(buf.data().data()), buf.size());
    const std::size_t bad = first_difference(got, msg);
    EXPECT(bad == std::string_view::npos,
           "echo of " << msg.size() << " bytes differs at byte " << bad);
}

template <class Next>
void echo_messages() {
    using WS = websocket::stream<Next>;
    BOOST_TEST_MESSAGE("over " << transport_name<Next>());
    compose_env env;
    WS server = env.server_stream<WS>();
    WS client = env.client_stream<WS>();
    server.read_message_max(max_message);
    client.read_message_max(max_message);

    const std::size_t big = scaled(16u << 20, 2u << 20);
    const std::vector<std::size_t> sizes{1, 125, 126, 65535, 65536, 1u << 20, big};
    std::optional<error_code> server_end;
    double big_seconds = 0;
    tasks t;
    spawn_echo_server(t, env, server, server_end);
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            co_await ws_dial(client, env.server_endpoint());
            std::uint64_t tag = 100;
            for (const std::size_t size : sizes)
                for (const bool text : {false, true}) {
                    const std::string msg = make_message(++tag, size, text);
                    const auto t0 = steady::now();
                    co_await round_trip(client, msg, text);
                    if (size == big)
                        big_seconds += std::chrono::duration<double>(steady::now() - t0).count();
                }
            co_await client.async_close(websocket::close_code::normal, asio::use_awaitable);
        },
        "client");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 180s, "echo", t);
    BOOST_REQUIRE(server_end.has_value());
    BOOST_TEST(*server_end == error_code(websocket::error::closed), server_end->message());
    // Two messages of `big` bytes, each carried there and back.
    const double mb = 4.0 * static_cast<double>(big) / 1e6;
    std::cout << "websocket over " << transport_name<Next>() << ": echo of 2 x " << (big >> 20)
              << " MiB in " << big_seconds << " s = " << mb / big_seconds << " MB/s carried"
              << std::endl;
    require_run_returns(env.ioc, 10s, "after the echo");
}

template <class Next>
void ping_pong() {
    using WS = websocket::stream<Next>;
    BOOST_TEST_MESSAGE("over " << transport_name<Next>());
    compose_env env;
    WS server = env.server_stream<WS>();
    WS client = env.client_stream<WS>();
    std::vector<event> client_saw, server_saw;
    record_control_frames(client, client_saw);
    record_control_frames(server, server_saw);
    const std::string ping_me = "ping me";
    std::optional<error_code> server_end;
    run_server_and_client(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            co_await ws_answer(server, env.acc);
            beast::flat_buffer buf;
            for (;;) {
                auto [ec, n] = co_await server.async_read(buf, asio::as_tuple(asio::use_awaitable));
                if (ec) {
                    server_end = ec;
                    co_return;
                }
                // The ping goes out before the echo: the client's read meets it first.
                if (beast::buffers_to_string(buf.data()) == ping_me)
                    co_await server.async_ping("server-ping", asio::use_awaitable);
                server.text(server.got_text());
                co_await server.async_write(buf.data(), asio::use_awaitable);
                buf.consume(n);
            }
        },
        [&]() -> asio::awaitable<void> {
            co_await ws_dial(client, env.server_endpoint());
            co_await round_trip(client, make_message(1, 1000, true), true);
            // The pong is read (and reported) by the client's next read, before that echo.
            co_await client.async_ping("client-ping", asio::use_awaitable);
            co_await round_trip(client, make_message(2, 70000, false), false);
            EXPECT((client_saw == std::vector<event>{{websocket::frame_type::pong, "client-ping"}}),
                   "client saw " << describe(client_saw));
            co_await round_trip(client, ping_me, true);
            co_await round_trip(client, make_message(3, 5000, false), false);
            co_await client.async_close(websocket::close_code::normal, asio::use_awaitable);
        },
        30s, "ping/pong");
    using ft = websocket::frame_type;
    const std::vector<event> client_want{{ft::pong, "client-ping"}, {ft::ping, "server-ping"}};
    // The server's read also reports the client's close frame.
    const std::vector<event> server_want{
        {ft::ping, "client-ping"}, {ft::pong, "server-ping"}, {ft::close, ""}};
    BOOST_TEST((client_saw == client_want), "client saw " << describe(client_saw));
    BOOST_TEST((server_saw == server_want), "server saw " << describe(server_saw));
    BOOST_REQUIRE(server_end.has_value());
    BOOST_TEST(*server_end == error_code(websocket::error::closed), server_end->message());
    require_run_returns(env.ioc, 10s, "after ping/pong");
}

enum class side { client, server };

/// One message each way, then `closer` closes while the other side has a read pending.
template <class Next>
void clean_close(side closer) {
    using WS = websocket::stream<Next>;
    BOOST_TEST_MESSAGE("over " << transport_name<Next>());
    compose_env env;
    WS server = env.server_stream<WS>();
    WS client = env.client_stream<WS>();
    const websocket::close_reason why =
        closer == side::client
            ? websocket::close_reason(websocket::close_code::normal, "client done")
            : websocket::close_reason(websocket::close_code::going_away, "server leaves");

    std::optional<error_code> close_result, read_result;
    websocket::close_reason closer_saw, reader_saw;
    std::size_t read_bytes = 99;
    steady::time_point close_started, close_done, read_done;
    // Both ends run the same steps; only the last differs.
    auto run = [&](WS& ws, side me) -> asio::awaitable<void> {
        const bool is_client = me == side::client;
        if (is_client)
            co_await ws_dial(ws, env.server_endpoint());
        else
            co_await ws_answer(ws, env.acc);
        const std::string mine = make_message(is_client ? 1 : 2, 3000, true);
        const std::string theirs = make_message(is_client ? 2 : 1, 3000, true);
        ws.text(true);
        co_await ws.async_write(asio::buffer(mine), asio::use_awaitable);
        beast::flat_buffer buf;
        co_await ws.async_read(buf, asio::use_awaitable);
        EXPECT(beast::buffers_to_string(buf.data()) == theirs, "message differs");
        buf.consume(buf.size());
        if (me == closer) {
            close_started = steady::now();
            auto [ec] = co_await ws.async_close(why, asio::as_tuple(asio::use_awaitable));
            close_done = steady::now();
            close_result = ec;
            closer_saw = ws.reason();
        } else {
            auto [ec, n] = co_await ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
            read_done = steady::now();
            read_result = ec;
            read_bytes = n;
            reader_saw = ws.reason();
        }
    };
    tasks t;
    t.spawn(env.ioc, run(server, side::server), "server");
    t.spawn(env.ioc, run(client, side::client), "client");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 20s, "close", t);

    BOOST_REQUIRE(close_result && read_result);
    BOOST_TEST(!*close_result, "async_close: " << close_result->message());
    BOOST_TEST(*read_result == error_code(websocket::error::closed), read_result->message());
    BOOST_TEST(read_bytes == 0u);
    BOOST_TEST(reader_saw.code == why.code);
    BOOST_TEST(std::string(reader_saw.reason.data(), reader_saw.reason.size()) ==
               std::string(why.reason.data(), why.reason.size()));
    // The answering close frame echoes the code.
    BOOST_TEST(closer_saw.code == why.code);
    BOOST_TEST(!server.is_open());
    BOOST_TEST(!client.is_open());
    // Teardown closed both µTP sockets (the closer's only after the peer's FIN).
    BOOST_TEST(!beast::get_lowest_layer(server).is_open());
    BOOST_TEST(!beast::get_lowest_layer(client).is_open());
    BOOST_TEST_MESSAGE("close handshake and teardown: closer "
                       << milliseconds(close_done - close_started) << " ms, reader done "
                       << milliseconds(read_done - close_started) << " ms after the close began");
    require_run_returns(env.ioc, 10s, "after the close");
}

template <class Next>
void suggested_timeouts() {
    using WS = websocket::stream<Next>;
    BOOST_TEST_MESSAGE("over " << transport_name<Next>());
    compose_env env;
    WS server = env.server_stream<WS>();
    WS client = env.client_stream<WS>();
    server.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    client.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    server.read_message_max(max_message);
    client.read_message_max(max_message);
    std::optional<error_code> server_end, close_result;
    tasks t;
    spawn_echo_server(t, env, server, server_end);
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            co_await ws_dial(client, env.server_endpoint());
            std::uint64_t tag = 200;
            for (const std::size_t size :
                 {std::size_t(1), std::size_t(65536), std::size_t(1) << 20})
                for (const bool text : {false, true})
                    co_await round_trip(client, make_message(++tag, size, text), text);
            co_await client.async_ping("", asio::use_awaitable);
            co_await round_trip(client, make_message(++tag, 10, true), true);
            auto [ec] = co_await client.async_close(websocket::close_code::normal,
                                                    asio::as_tuple(asio::use_awaitable));
            close_result = ec;
        },
        "client");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 60s, "with timeouts", t);
    require_clean_client_close(env.ioc, close_result, server_end, client, server,
                               "the close with timeouts");
}

template <class Next>
void handshake_timeout() {
    using WS = websocket::stream<Next>;
    BOOST_TEST_MESSAGE("over " << transport_name<Next>());
    compose_env env;
    WS server = env.server_stream<WS>();
    Next client = env.client_stream<Next>();
    websocket::stream_base::timeout opt{};
    opt.handshake_timeout = 300ms;
    opt.idle_timeout = websocket::stream_base::none();
    opt.keep_alive_pings = false;
    server.set_option(opt);

    std::optional<error_code> accept_result, client_read;
    steady::time_point accept_started, accept_done;
    run_server_and_client(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            co_await answer(server.next_layer(), env.acc);
            accept_started = steady::now();
            auto [ec] = co_await server.async_accept(asio::as_tuple(asio::use_awaitable));
            accept_done = steady::now();
            accept_result = ec;
        },
        [&]() -> asio::awaitable<void> {
            // Connected (and TLS set up) but never asks for the upgrade; this read ends only
            // when the server's timeout closes the µTP socket under it.
            co_await dial(client, env.server_endpoint());
            std::array<char, 64> buf;
            auto [ec, n] = co_await client.async_read_some(asio::buffer(buf),
                                                           asio::as_tuple(asio::use_awaitable));
            client_read = ec;
            EXPECT(n == 0, "the server sent " << n << " bytes");
        },
        10s, "handshake timeout");
    BOOST_REQUIRE(accept_result && client_read);
    BOOST_TEST(*accept_result == error_code(beast::error::timeout), accept_result->message());
    const auto waited = accept_done - accept_started;
    BOOST_TEST(waited >= 300ms);
    BOOST_TEST_MESSAGE("accept timed out after " << milliseconds(waited) << " ms");
    BOOST_TEST(!beast::get_lowest_layer(server).is_open());
    // Beast closes the µTP socket under TLS, no close_notify: over TLS that is a truncation.
    const error_code want_read =
        is_tls<Next> ? error_code(ssl::error::stream_truncated) : error_code(asio::error::eof);
    BOOST_TEST(*client_read == want_read, client_read->message());
    beast::get_lowest_layer(client).close();
    require_run_returns(env.ioc, 10s, "after the handshake timeout");
}

} // namespace

BOOST_AUTO_TEST_SUITE(websocket)

// Every scenario over plain µTP and over TLS over µTP.
#define UTP_WEBSOCKET_CASES(name, seconds, ...)                                                    \
    BOOST_AUTO_TEST_CASE(name##_plain, *utf::timeout(seconds)) {                                   \
        name<utp::socket>(__VA_ARGS__);                                                            \
    }                                                                                              \
    BOOST_AUTO_TEST_CASE(name##_tls, *utf::timeout(seconds)) {                                     \
        name<tls_socket>(__VA_ARGS__);                                                             \
    }

UTP_WEBSOCKET_CASES(echo_messages, 200)
UTP_WEBSOCKET_CASES(ping_pong, 60)
BOOST_AUTO_TEST_CASE(close_by_client_plain, *utf::timeout(60)) {
    clean_close<utp::socket>(side::client);
}
BOOST_AUTO_TEST_CASE(close_by_client_tls, *utf::timeout(60)) {
    clean_close<tls_socket>(side::client);
}
BOOST_AUTO_TEST_CASE(close_by_server_plain, *utf::timeout(60)) {
    clean_close<utp::socket>(side::server);
}
BOOST_AUTO_TEST_CASE(close_by_server_tls, *utf::timeout(60)) {
    clean_close<tls_socket>(side::server);
}
UTP_WEBSOCKET_CASES(suggested_timeouts, 90)
UTP_WEBSOCKET_CASES(handshake_timeout, 60)

BOOST_AUTO_TEST_SUITE_END()
