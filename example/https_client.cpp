//
// https_client.cpp — an HTTPS client over µTP: Boost.Beast HTTP over
// asio::ssl::stream<utp::socket>.
//
// Connects, handshakes (SNI and host-name verification), sends a GET for each TARGET
// (default "/") on one keep-alive connection, prints each status and body size (and the
// body of "/"), then shuts TLS down. Exits non-zero on any error or non-200 status, or
// when the whole run takes longer than --timeout (default 30 s).
//
//   ./https_server --write-cert /tmp/utp-cert.pem 127.0.0.1 8443 &
//   ./https_client --ca /tmp/utp-cert.pem 127.0.0.1 8443 / /bytes/10000000
//
// --host NAME asks for and verifies NAME rather than HOST; --insecure verifies nothing;
// with neither --ca nor --insecure, the system's certificate authorities are trusted.
//
#include "args.hpp"
#include "run.hpp"
#include "tls_setup.hpp"

#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::as_tuple;
using asio::awaitable;
using asio::use_awaitable;
using utp_example::check;

using tls_stream = ssl::stream<utp::socket>;

/// Read one response, streaming its body (to stdout if `print`); returns true on 200.
awaitable<bool> read_response(tls_stream& stream, beast::flat_buffer& buffer,
                              const std::string& target, bool print) {
    const auto start = std::chrono::steady_clock::now();
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none); // /bytes/N may be as large as the server likes
    co_await http::async_read_header(stream, buffer, parser, use_awaitable);

    // The body comes through a fixed buffer, piece by piece, so its size does not matter.
    std::array<char, 64 * 1024> piece;
    std::uint64_t size = 0;
    while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
        // need_buffer: the piece is full, not an error.
        if (ec != http::error::need_buffer) check(ec, "GET " + target);
        const std::size_t got = piece.size() - parser.get().body().size;
        if (print) std::fwrite(piece.data(), 1, got, stdout);
        size += got;
    }
    std::fflush(stdout);

    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    const auto& res = parser.get();
    std::cout << "GET " << target << ": " << res.result_int() << " " << res.reason() << ", " << size
              << " bytes in " << took.count() << " s";
    if (size >= 1'000'000) std::cout << " (" << size / took.count() / 1e6 << " MB/s)";
    std::cout << std::endl;
    co_return res.result() == http::status::ok;
}

/// The whole run; returns the exit status. The µTP connection closes as it returns or throws.
awaitable<int> fetch(utp_example::command_line cl) {
    const std::string& host = cl.args[0];
    const std::string& port = cl.args[1];
    const std::string name = cl.host.empty() ? host : cl.host;
    std::vector<std::string> targets(cl.args.begin() + 2, cl.args.end());
    if (targets.empty()) targets.push_back("/");

    ssl::context ctx = utp_example::client_context(cl);
    tls_stream stream(co_await asio::this_coro::executor, ctx);
    utp_example::set_server_name(stream, name, cl.insecure);

    const auto server = co_await utp_example::resolve(host, port);
    auto [ec] = co_await stream.next_layer().async_connect(server, as_tuple(use_awaitable));
    check(ec, "connect to " + host + " port " + port);
    std::tie(ec) =
        co_await stream.async_handshake(ssl::stream_base::client, as_tuple(use_awaitable));
    check(ec, "TLS handshake with " + name);

    beast::flat_buffer buffer;
    bool all_ok = true;
    for (const auto& target : targets) {
        http::request<http::empty_body> req{http::verb::get, target, 11};
        req.set(http::field::host, name + ":" + port);
        req.set(http::field::user_agent, "utp https_client");
        co_await http::async_write(stream, req, use_awaitable);
        all_ok &= co_await read_response(stream, buffer, target, target == "/");
    }

    // close_notify both ways, so that neither side can take the end for a truncation.
    std::tie(ec) = co_await stream.async_shutdown(as_tuple(use_awaitable));
    check(ec, "TLS shutdown");
    co_return all_ok ? 0 : 1;
}

int main(int argc, char** argv) {
    try {
        auto cl = utp_example::parse_command_line(argc, argv, 1,
                                                  {"--ca", "--insecure", "--host", "--timeout"});
        if (cl.args.size() < 2) throw utp_example::usage_error("expected HOST PORT");
        const auto limit = cl.timeout;
        return utp_example::run_client("https_client", fetch(std::move(cl)), limit);
    } catch (const utp_example::usage_error& e) {
        std::cerr << "https_client: " << e.what() << "\n"
                  << "usage: https_client [--ca FILE | --insecure] [--host NAME] "
                     "[--timeout SECONDS] HOST PORT [TARGET...]\n";
        return 2;
    }
}
