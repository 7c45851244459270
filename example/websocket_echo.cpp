//
// websocket_echo.cpp — WebSocket over µTP (Boost.Beast), optionally over TLS.
//
// The server echoes every message on every connection, text as text and binary as
// binary. The client sends each MESSAGE, prints the echo, checks that it matches, then
// closes the WebSocket cleanly (close frames both ways, then the µTP FIN); its exit status
// says whether everything matched.
//
//   ./websocket_echo server 127.0.0.1 9001
//   ./websocket_echo client 127.0.0.1 9001 hello "µTP here"
//
//   ./websocket_echo server --tls --write-cert /tmp/utp-ws-cert.pem 127.0.0.1 9002
//   ./websocket_echo client --tls --ca /tmp/utp-ws-cert.pem 127.0.0.1 9002 hello
//
// The server prints the port it listens on (port 0 picks a free one); with --tls it uses
// --cert/--key, or else a throw-away identity. The client sends binary messages with
// --binary, and gives up after --timeout seconds (default 30).
//
#include "args.hpp"
#include "run.hpp"
#include "tls_setup.hpp"

#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp> // the TLS teardown of websocket::stream<ssl::stream>

#include <chrono>
#include <iostream>
#include <string>
#include <tuple>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;
using asio::as_tuple;
using asio::awaitable;
using asio::use_awaitable;
using utp_example::check;

// --- server --------------------------------------------------------------------------

/// Echo until the client closes. NextLayer is utp::socket or ssl::stream<utp::socket>.
template <class NextLayer>
awaitable<void> echo(websocket::stream<NextLayer>& ws) {
    // Beast's own timers: handshake and idle limits, pings to keep a quiet client alive.
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    co_await ws.async_accept(use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buffer, as_tuple(use_awaitable));
        if (ec == websocket::error::closed) co_return; // a clean close, answered by Beast
        check(ec, "read");
        ws.text(ws.got_text());
        co_await ws.async_write(buffer.data(), use_awaitable);
        buffer.consume(buffer.size());
    }
}

awaitable<void> plain_session(utp::socket socket) {
    websocket::stream<utp::socket> ws(std::move(socket));
    co_await echo(ws);
}

awaitable<void> tls_session(utp::socket socket, ssl::context& ctx) {
    websocket::stream<ssl::stream<utp::socket>> ws(std::move(socket), ctx);
    auto [ec] = co_await utp_example::within(
        10s, ws.next_layer().async_handshake(ssl::stream_base::server, as_tuple(use_awaitable)));
    check(ec, "TLS handshake");
    co_await echo(ws);
}

int server(const utp_example::command_line& cl) {
    if (cl.args.size() != 2) throw utp_example::usage_error("expected ADDRESS PORT");
    if (!cl.tls && (!cl.cert.empty() || !cl.write_cert.empty()))
        throw utp_example::usage_error("--cert, --key and --write-cert go with --tls");
    if (!cl.tls) return utp_example::serve("websocket_echo", cl.args[0], cl.args[1], plain_session);
    ssl::context ctx = utp_example::server_context(cl);
    return utp_example::serve("websocket_echo", cl.args[0], cl.args[1],
                              [&](utp::socket s) { return tls_session(std::move(s), ctx); });
}

// --- client --------------------------------------------------------------------------

/// Send each message, check its echo, close. Returns the exit status.
template <class NextLayer>
awaitable<int> exchange(websocket::stream<NextLayer>& ws, const utp_example::command_line& cl,
                        const std::string& host) {
    auto [ec] = co_await ws.async_handshake(host + ":" + cl.args[1], "/", as_tuple(use_awaitable));
    check(ec, "WebSocket handshake with " + host);
    beast::flat_buffer buffer;
    int status = 0;
    for (auto m = cl.args.begin() + 2; m != cl.args.end(); ++m) {
        ws.binary(cl.binary);
        co_await ws.async_write(asio::buffer(*m), use_awaitable);
        buffer.clear();
        co_await ws.async_read(buffer, use_awaitable);
        const std::string reply = beast::buffers_to_string(buffer.data());
        std::cout << reply << std::endl;
        if (reply != *m || ws.got_binary() != cl.binary) {
            std::cerr << "websocket_echo: the echo of \"" << *m << "\" differs\n";
            status = 1;
        }
    }
    // Close frames both ways, then the server's FIN and ours: nothing is left in flight.
    std::tie(ec) = co_await ws.async_close(websocket::close_code::normal, as_tuple(use_awaitable));
    check(ec, "WebSocket close");
    co_return status;
}

/// The whole client; returns the exit status.
awaitable<int> client(utp_example::command_line cl) {
    const std::string& host = cl.args[0];
    const std::string name = cl.host.empty() ? host : cl.host;
    const auto peer = co_await utp_example::resolve(host, cl.args[1]);
    auto ex = co_await asio::this_coro::executor;
    const std::string where = host + " port " + cl.args[1];
    if (!cl.tls) {
        websocket::stream<utp::socket> ws(ex);
        auto [ec] = co_await ws.next_layer().async_connect(peer, as_tuple(use_awaitable));
        check(ec, "connect to " + where);
        co_return co_await exchange(ws, cl, name);
    }
    ssl::context ctx = utp_example::client_context(cl);
    websocket::stream<ssl::stream<utp::socket>> ws(ex, ctx);
    utp_example::set_server_name(ws.next_layer(), name, cl.insecure);
    auto [ec] = co_await beast::get_lowest_layer(ws).async_connect(peer, as_tuple(use_awaitable));
    check(ec, "connect to " + where);
    std::tie(ec) =
        co_await ws.next_layer().async_handshake(ssl::stream_base::client, as_tuple(use_awaitable));
    check(ec, "TLS handshake with " + name);
    co_return co_await exchange(ws, cl, name);
}

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    try {
        if (mode == "server")
            return server(utp_example::parse_command_line(
                argc, argv, 2, {"--tls", "--cert", "--key", "--write-cert"}));
        if (mode == "client") {
            auto cl = utp_example::parse_command_line(
                argc, argv, 2, {"--tls", "--ca", "--insecure", "--host", "--binary", "--timeout"});
            if (cl.args.size() < 3) throw utp_example::usage_error("expected HOST PORT MESSAGE...");
            if (!cl.tls && (cl.insecure || !cl.ca.empty()))
                throw utp_example::usage_error("--ca and --insecure go with --tls");
            const auto limit = cl.timeout;
            return utp_example::run_client("websocket_echo", client(std::move(cl)), limit);
        }
        throw utp_example::usage_error("the first argument is server or client");
    } catch (const utp_example::usage_error& e) {
        std::cerr << "websocket_echo: " << e.what() << "\n"
                  << "usage: websocket_echo server [--tls [--cert FILE --key FILE] "
                     "[--write-cert FILE]] ADDRESS PORT\n"
                  << "       websocket_echo client [--tls [--ca FILE | --insecure] [--host NAME]] "
                     "[--binary] [--timeout SECONDS] HOST PORT MESSAGE...\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "websocket_echo: " << e.what() << "\n";
        return 1;
    }
}
