//
// https_server.cpp — HTTPS over µTP: Boost.Beast HTTP over asio::ssl::stream<utp::socket>.
//
// Serves GET requests with keep-alive, one coroutine per connection, every connection on
// one UDP port:
//
//   /           a short text page
//   /bytes/N    N bytes (streamed in 64 KiB pieces, so N may exceed memory)
//
// Without --cert/--key it makes a throw-away identity at start-up; --write-cert saves its
// certificate so that a client can trust it. It prints the port it listens on (port 0
// picks a free one). Ctrl-C stops it.
//
//   ./https_server --write-cert /tmp/utp-cert.pem 127.0.0.1 8443
//   ./https_client --ca /tmp/utp-cert.pem 127.0.0.1 8443 / /bytes/10000000
//
//   ./https_server --cert cert.pem --key key.pem 0.0.0.0 8443      (your own identity)
//
#include "args.hpp"
#include "run.hpp"
#include "tls_setup.hpp"

#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>
#include <tuple>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;
using asio::as_tuple;
using asio::awaitable;
using asio::use_awaitable;
using utp_example::check;
using utp_example::within;

using tls_stream = ssl::stream<utp::socket>;

/// The longest a kept-alive connection may wait for its next request.
constexpr auto idle_timeout = 30s;

/// Answer with a whole body held in memory (the page, errors).
awaitable<void> send_text(tls_stream& stream, const http::request<http::string_body>& req,
                          http::status status, std::string body) {
    http::response<http::string_body> res{status, req.version()};
    res.set(http::field::server, "utp https_server");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    co_await http::async_write(stream, res, use_awaitable);
}

/// Answer with `n` bytes, produced piece by piece as the connection takes them.
awaitable<void> send_bytes(tls_stream& stream, const http::request<http::string_body>& req,
                           std::uint64_t n) {
    http::response<http::buffer_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "utp https_server");
    res.set(http::field::content_type, "application/octet-stream");
    res.keep_alive(req.keep_alive());
    res.content_length(n);
    http::response_serializer<http::buffer_body> sr{res};

    res.body().data = nullptr; // no body yet: the header alone
    res.body().more = true;
    co_await http::async_write_header(stream, sr, use_awaitable);

    std::array<char, 64 * 1024> piece;
    for (std::size_t i = 0; i < piece.size(); ++i)
        piece[i] = "0123456789abcdef"[i % 16];
    while (n > 0) {
        const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(n, piece.size()));
        res.body().data = piece.data();
        res.body().size = k;
        res.body().more = true;
        // need_buffer is how the serializer says it consumed the piece and wants the next.
        auto [ec, written] = co_await http::async_write(stream, sr, as_tuple(use_awaitable));
        if (ec != http::error::need_buffer) check(ec, "write");
        n -= k;
    }
    res.body().data = nullptr;
    res.body().more = false;
    co_await http::async_write(stream, sr, use_awaitable);
}

awaitable<void> respond(tls_stream& stream, const http::request<http::string_body>& req,
                        const std::string& peer) {
    const std::string_view target = req.target();
    if (req.method() != http::verb::get)
        co_return co_await send_text(stream, req, http::status::method_not_allowed,
                                     "only GET here\n");
    if (target == "/") {
        std::ostringstream page;
        page << "Hello from https_server: HTTP/1.1 over TLS over µTP.\n"
             << "You are " << peer << ", using " << SSL_get_version(stream.native_handle())
             << " with " << SSL_get_cipher_name(stream.native_handle()) << ".\n"
             << "Try /bytes/N for N bytes.\n";
        co_return co_await send_text(stream, req, http::status::ok, page.str());
    }
    if (target.starts_with("/bytes/")) {
        std::uint64_t n = 0;
        const auto digits = target.substr(7);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc{} || end != digits.data() + digits.size())
            co_return co_await send_text(stream, req, http::status::bad_request,
                                         "N is not a number\n");
        co_return co_await send_bytes(stream, req, n);
    }
    co_await send_text(stream, req, http::status::not_found, "no such page\n");
}

/// One connection: TLS handshake, requests until the client stops, TLS shutdown.
awaitable<void> session(utp::socket socket, ssl::context& ctx) {
    const std::string peer = (std::ostringstream() << socket.remote_endpoint()).str();
    tls_stream stream(std::move(socket), ctx);

    auto [ec] = co_await within(
        10s, stream.async_handshake(ssl::stream_base::server, as_tuple(use_awaitable)));
    check(ec, "TLS handshake");

    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> req;
        auto [read_ec, n] = co_await within(
            idle_timeout, http::async_read(stream, buffer, req, as_tuple(use_awaitable)));
        // end_of_stream: the client's close_notify between requests, the normal ending.
        if (read_ec == http::error::end_of_stream || read_ec == asio::error::timed_out) break;
        check(read_ec, "request");
        std::cout << peer << " " << req.method_string() << " " << req.target() << std::endl;
        co_await respond(stream, req, peer);
        if (!req.keep_alive()) break;
    }

    // close_notify both ways, so the client knows the responses were complete.
    std::tie(ec) = co_await within(10s, stream.async_shutdown(as_tuple(use_awaitable)));
    check(ec, "TLS shutdown");
} // the µTP connection closes gracefully here

int main(int argc, char** argv) {
    try {
        const auto cl =
            utp_example::parse_command_line(argc, argv, 1, {"--cert", "--key", "--write-cert"});
        if (cl.args.size() != 2) throw utp_example::usage_error("expected ADDRESS PORT");
        ssl::context ctx = utp_example::server_context(cl);
        return utp_example::serve("https_server", cl.args[0], cl.args[1],
                                  [&](utp::socket s) { return session(std::move(s), ctx); });
    } catch (const utp_example::usage_error& e) {
        std::cerr << "https_server: " << e.what() << "\n"
                  << "usage: https_server [--cert FILE --key FILE] [--write-cert FILE] "
                     "ADDRESS PORT\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "https_server: " << e.what() << "\n";
        return 1;
    }
}
