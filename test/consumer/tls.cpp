// TLS over µTP in a program that links only utp::utp and OpenSSL, as every Asio TLS program
// links OpenSSL, and that uses Asio the way existing programs do: with its deprecated names
// (io_context::work, io_context::post). Linking utp::utp must change nothing in how such a
// program compiles Asio: no separate-compilation mode to satisfy, no names taken away.
// Exit status 0 iff the TLS handshake, a verified echo and close_notify both ways succeeded
// within 10 s.
#include <utp.hpp>

#include "self_signed.hpp" // from example/common: a throw-away identity

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

namespace asio = boost::asio;
namespace ssl = asio::ssl;

int main() {
    asio::io_context ioc;
    // Deprecated Asio, still compiled by default: what BOOST_ASIO_NO_DEPRECATED would remove.
    std::optional<asio::io_context::work> work(std::in_place, ioc);
    bool posted = false;
    ioc.post([&] { posted = true; });

    const auto id = utp_example::make_self_signed("localhost");
    ssl::context server_ctx(ssl::context::tls_server);
    server_ctx.use_certificate_chain(asio::buffer(id.certificate_pem));
    server_ctx.use_private_key(asio::buffer(id.private_key_pem), ssl::context::pem);
    ssl::context client_ctx(ssl::context::tls_client);
    client_ctx.add_certificate_authority(asio::buffer(id.certificate_pem));
    client_ctx.set_verify_mode(ssl::verify_peer);

    utp::acceptor acceptor(ioc, {asio::ip::address_v4::loopback(), 0});
    const std::string message = "TLS over uTP, linked with utp::utp and OpenSSL only";
    std::string echoed, failure;

    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            ssl::stream<utp::socket> s(co_await acceptor.async_accept(asio::use_awaitable),
                                       server_ctx);
            co_await s.async_handshake(ssl::stream_base::server, asio::use_awaitable);
            std::string buf(message.size(), '\0');
            co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);
            co_await asio::async_write(s, asio::buffer(buf), asio::use_awaitable);
            co_await s.async_shutdown(asio::use_awaitable);
        },
        [&](std::exception_ptr e) {
            if (e) failure += "server failed; ";
        });
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            ssl::stream<utp::socket> s(ioc, client_ctx);
            s.set_verify_callback(ssl::host_name_verification("localhost"));
            co_await s.next_layer().async_connect(acceptor.local_endpoint(), asio::use_awaitable);
            co_await s.async_handshake(ssl::stream_base::client, asio::use_awaitable);
            co_await asio::async_write(s, asio::buffer(message), asio::use_awaitable);
            echoed.resize(message.size());
            co_await asio::async_read(s, asio::buffer(echoed), asio::use_awaitable);
            co_await s.async_shutdown(asio::use_awaitable);
            work.reset();
        },
        [&](std::exception_ptr e) {
            if (e) {
                failure += "client failed; ";
                work.reset();
            }
        });
    ioc.run_for(std::chrono::seconds(10));
    const bool ok = posted && failure.empty() && echoed == message;
    std::printf("consumer tls: %s\n",
                ok ? "handshake, echo and close_notify over uTP" : ("FAILED: " + failure).c_str());
    return ok ? 0 : 1;
}
