//
// test/asio/websocket_common.hpp — set-up shared by the WebSocket and composed-timeout
// tests: a server acceptor and a client multiplexer on loopback with TLS contexts, streams
// built on either transport (utp::socket or ssl::stream<utp::socket>), and coroutines that
// connect them (µTP, then TLS, then the WebSocket upgrade).
//
#ifndef UTP_TEST_ASIO_WEBSOCKET_COMMON_HPP
#define UTP_TEST_ASIO_WEBSOCKET_COMMON_HPP

#include "common.hpp"
#include "tls_common.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <optional>
#include <string>

namespace utp_test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

/// TLS over µTP.
using tls_socket = ssl::stream<utp::socket>;

/// The transport under a stream: the stream itself, or a WebSocket's next layer.
template <class Stream>
struct transport_of {
    using type = Stream;
};
template <class Next, bool Deflate>
struct transport_of<websocket::stream<Next, Deflate>> {
    using type = Next;
};
template <class Stream>
using transport_t = typename transport_of<Stream>::type;

template <class Stream>
inline constexpr bool is_tls = std::is_same_v<transport_t<Stream>, tls_socket>;

template <class Stream>
const char* transport_name() {
    return is_tls<Stream> ? "TLS over uTP" : "uTP";
}

/// One test's network: the server's acceptor (its own multiplexer), the client's
/// multiplexer, and TLS contexts that trust the run-time test identity.
struct compose_env {
    asio::io_context ioc;
    utp::acceptor acc{ioc, loopback_v4()};
    utp::multiplexer client_mux{ioc, loopback_v4()};
    ssl::context server_tls = server_context();
    ssl::context client_tls = client_context();

    /// A client stream (transport or WebSocket) that dials out through client_mux.
    template <class Stream>
    Stream client_stream() {
        if constexpr (is_tls<Stream>)
            return Stream(client_mux, client_tls);
        else
            return Stream(client_mux);
    }

    /// A server stream (transport or WebSocket) to accept into.
    template <class Stream>
    Stream server_stream() {
        if constexpr (is_tls<Stream>)
            return Stream(ioc, server_tls);
        else
            return Stream(ioc);
    }

    udp::endpoint server_endpoint() const { return acc.local_endpoint(); }
};

/// Connect transport `t` to `to`; over TLS, then handshake as a client of "localhost"
/// (SNI and host-name verification, so a wrong identity fails the test).
template <class Transport>
asio::awaitable<void> dial(Transport& t, udp::endpoint to) {
    co_await beast::get_lowest_layer(t).async_connect(to, asio::use_awaitable);
    if constexpr (is_tls<Transport>) {
        set_client_host(t, "localhost");
        co_await t.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    }
}

/// Accept the next µTP connection into transport `t`; over TLS, then handshake as server.
template <class Transport>
asio::awaitable<void> answer(Transport& t, utp::acceptor& acc) {
    co_await acc.async_accept(beast::get_lowest_layer(t), asio::use_awaitable);
    if constexpr (is_tls<Transport>)
        co_await t.async_handshake(ssl::stream_base::server, asio::use_awaitable);
}

/// Dial and upgrade: the WebSocket client handshake for ws://localhost/.
template <class WS>
asio::awaitable<void> ws_dial(WS& ws, udp::endpoint to) {
    co_await dial(ws.next_layer(), to);
    co_await ws.async_handshake("localhost", "/", asio::use_awaitable);
}

/// Accept and answer the upgrade.
template <class WS>
asio::awaitable<void> ws_answer(WS& ws, utp::acceptor& acc) {
    co_await answer(ws.next_layer(), acc);
    co_await ws.async_accept(asio::use_awaitable);
}

/// Message `tag` of `n` bytes: the tagged pattern; as text, mapped onto printable ASCII so
/// that it is valid UTF-8.
inline std::string make_message(std::uint64_t tag, std::size_t n, bool text) {
    std::string s(n, '\0');
    pattern(tag).fill(0, {reinterpret_cast<std::uint8_t*>(s.data()), n});
    if (text)
        for (char& c : s)
            c = static_cast<char>(0x20 + static_cast<std::uint8_t>(c) % 95);
    return s;
}

/// Index of the first byte where `got` differs from `want`, or npos if they are equal.
inline std::size_t first_difference(std::string_view got, std::string_view want) {
    const std::size_t n = std::min(got.size(), want.size());
    for (std::size_t i = 0; i < n; ++i)
        if (got[i] != want[i]) return i;
    return got.size() == want.size() ? std::string_view::npos : n;
}

/// Echo every message back with its kind (text or binary) until a read fails; returns that
/// read's error (websocket::error::closed after a close handshake).
template <class WS>
asio::awaitable<error_code> ws_echo(WS& ws) {
    beast::flat_buffer buf;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return ec;
        ws.text(ws.got_text());
        co_await ws.async_write(buf.data(), asio::use_awaitable);
        buf.consume(n);
    }
}

/// Spawn (into `t`) the WebSocket echo server of most tests: accept into `server`, echo
/// until a read fails, and record that read's error in `end`.
template <class WS>
void spawn_echo_server(tasks& t, compose_env& env, WS& server, std::optional<error_code>& end) {
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            co_await ws_answer(server, env.acc);
            end = co_await ws_echo(server);
        },
        "server");
}

/// After a close the client started: its async_close succeeded, the server's pending read
/// ended with websocket::error::closed, teardown closed both µTP sockets, and the
/// io_context runs out of work (nothing left behind).
template <class WS>
void require_clean_client_close(asio::io_context& ioc,
                                const std::optional<error_code>& close_result,
                                const std::optional<error_code>& server_end, WS& client, WS& server,
                                const std::string& what) {
    BOOST_REQUIRE(server_end && close_result);
    BOOST_TEST(!*close_result, what << ": async_close: " << close_result->message());
    BOOST_TEST(*server_end == error_code(websocket::error::closed), server_end->message());
    BOOST_TEST(!beast::get_lowest_layer(client).is_open());
    BOOST_TEST(!beast::get_lowest_layer(server).is_open());
    require_run_returns(ioc, 10s, "after " + what);
}

} // namespace utp_test

#endif
