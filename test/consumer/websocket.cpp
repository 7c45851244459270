// A WebSocket echo over µTP through the installed utp::utp + utp::beast, and an
// asio::ssl::stream<utp::socket> built against utp::ssl: proves that the exported targets
// carry what a Beast/TLS user needs (definitions, OpenSSL, the compiled-once bodies).
// Exit status 0 iff the message came back intact within 10 s.
#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;

int main() {
    asio::io_context ioc;
    utp::multiplexer mux(ioc, {asio::ip::address_v4::loopback(), 0});
    utp::acceptor acceptor(mux);
    const std::string message = "consumer says hello over µTP";
    std::string echoed;

    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            websocket::stream<utp::socket> ws(co_await acceptor.async_accept(asio::use_awaitable));
            co_await ws.async_accept(asio::use_awaitable);
            boost::beast::flat_buffer buf;
            co_await ws.async_read(buf, asio::use_awaitable);
            co_await ws.async_write(buf.data(), asio::use_awaitable);
            auto [ec, n] = co_await ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
            (void)n; // ends with websocket::error::closed
        },
        asio::detached);
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            websocket::stream<utp::socket> ws(ioc);
            co_await ws.next_layer().async_connect(mux.local_endpoint(), asio::use_awaitable);
            co_await ws.async_handshake("localhost", "/", asio::use_awaitable);
            co_await ws.async_write(asio::buffer(message), asio::use_awaitable);
            boost::beast::flat_buffer buf;
            co_await ws.async_read(buf, asio::use_awaitable);
            echoed = boost::beast::buffers_to_string(buf.data());
            co_await ws.async_close(websocket::close_code::normal, asio::use_awaitable);
        },
        asio::detached);
    ioc.run_for(std::chrono::seconds(10));

    // TLS: the type composes and the compiled SSL bodies link (no handshake: no identity).
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    websocket::stream<asio::ssl::stream<utp::socket>> tls_ws(ioc, ctx);
    const bool tls_ok = !boost::beast::get_lowest_layer(tls_ws).is_open();

    const bool ok = echoed == message && tls_ok;
    std::printf("consumer: websocket echo over uTP %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
