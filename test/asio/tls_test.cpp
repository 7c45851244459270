//
// Suite `tls`: asio::ssl::stream<utp::socket> on real loopback µTP connections.
//
//   bulk_both_ways_client_shuts_down / ..._server_shuts_down: handshake, then 32 MiB
//     (4 MiB under sanitizers) each way at the same time, checked byte by byte and by
//     SHA-256; then a close_notify exchange started by one side: the other side's read
//     sees a clean eof (not stream_truncated), both async_shutdowns succeed, a read after
//     the shutdown is eof again, the µTP streams then end with FIN both ways with no stray
//     byte after close_notify, and io_context::run() returns (nothing left behind).
//   untrusted_certificate: a client that does not trust the server fails its handshake
//     with SSL_R_CERTIFICATE_VERIFY_FAILED; the server's handshake fails on the client's
//     alert; both within a bound.
//   host_name_mismatch: a trusted certificate for another name fails the same way.
//   sni: the server name the client sends ("utp.test") reaches the server's servername
//     callback, and verification against that name succeeds, with one exchange.
//   ipv6: handshake and one exchange over ::1, the certificate's IP address verified.
//
#include "http_common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <functional>
#include <optional>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

/// After the TLS layer has closed: FIN both ways, and not one byte after close_notify.
asio::awaitable<void> end_transport(utp::socket& s, const char* who) {
    s.shutdown(asio::socket_base::shutdown_send);
    co_await expect_eof(s, who);
    s.close();
    EXPECT(!s.is_open(), who << ": open after close()");
}

std::string describe(const error_code& ec) {
    std::ostringstream os;
    os << "'" << ec.message() << "' (" << ec.category().name() << ":" << ec.value();
    if (ec.category() == asio::error::get_ssl_category())
        os << ", reason " << ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    os << ")";
    return os.str();
}

bool has_ssl_reason(const error_code& ec, int reason) {
    return ec.category() == asio::error::get_ssl_category() &&
           ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == reason;
}

void bulk_then_shutdown(bool client_initiates) {
    loopback_env env;
    ssl::context sctx = server_context(), cctx = client_context();
    const std::uint64_t size = scaled(32u << 20, 4u << 20);
    std::string server_got, client_got;
    double server_s = 0, client_s = 0;

    run_server_and_client(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            tls_stream s(co_await env.acc.async_accept(asio::use_awaitable), sctx);
            co_await s.async_handshake(ssl::stream_base::server, asio::use_awaitable);
            const auto t0 = steady::now();
            server_got = co_await (write_pattern(s, 1001, size) && read_pattern(s, 1002, size));
            server_s = seconds_since(t0);
            if (client_initiates) {
                co_await expect_eof(s, "server, on the client's close_notify");
                auto [ec] = co_await s.async_shutdown(asio::as_tuple(asio::use_awaitable));
                EXPECT(!ec, "server shutdown (responder): " << describe(ec));
            } else {
                auto [ec] = co_await s.async_shutdown(asio::as_tuple(asio::use_awaitable));
                EXPECT(!ec, "server shutdown (initiator): " << describe(ec));
                co_await expect_eof(s, "server, after its shutdown");
            }
            co_await end_transport(s.next_layer(), "server transport");
        },
        [&]() -> asio::awaitable<void> {
            tls_stream c(env.client_mux, cctx);
            co_await c.next_layer().async_connect(env.server(), asio::use_awaitable);
            set_client_host(c, "localhost");
            co_await c.async_handshake(ssl::stream_base::client, asio::use_awaitable);
            const auto t0 = steady::now();
            client_got = co_await (write_pattern(c, 1002, size) && read_pattern(c, 1001, size));
            client_s = seconds_since(t0);
            if (client_initiates) {
                auto [ec] = co_await c.async_shutdown(asio::as_tuple(asio::use_awaitable));
                EXPECT(!ec, "client shutdown (initiator): " << describe(ec));
                co_await expect_eof(c, "client, after its shutdown");
            } else {
                co_await expect_eof(c, "client, on the server's close_notify");
                auto [ec] = co_await c.async_shutdown(asio::as_tuple(asio::use_awaitable));
                EXPECT(!ec, "client shutdown (responder): " << describe(ec));
            }
            co_await end_transport(c.next_layer(), "client transport");
        },
        120s, "TLS bulk and shutdown");
    const std::string expected_c2s = pattern_sha256(1002, size);
    const std::string expected_s2c = pattern_sha256(1001, size);
    BOOST_TEST(server_got == expected_c2s);
    BOOST_TEST(client_got == expected_s2c);
    BOOST_TEST_MESSAGE("TLS over µTP, " << (size >> 20) << " MiB each way at once: server "
                                        << server_s << " s, client " << client_s << " s ("
                                        << mib_per_s(2 * size, std::max(server_s, client_s))
                                        << " MiB/s both directions together)");
    require_run_returns(env.ioc, 20s, "TLS bulk and shutdown");
}

struct handshake_outcome {
    std::optional<error_code> client, server;
    long client_verify_result = X509_V_OK;
};

/// One connection whose handshake must fail: returns both sides' handshake results.
/// Each side closes its µTP socket as soon as its handshake completes.
handshake_outcome failing_handshake(ssl::context& cctx,
                                    const std::function<void(tls_stream&)>& prepare_client) {
    loopback_env env;
    ssl::context sctx = server_context();
    tasks t;
    handshake_outcome out;
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            tls_stream s(co_await env.acc.async_accept(asio::use_awaitable), sctx);
            auto [ec] = co_await s.async_handshake(ssl::stream_base::server,
                                                   asio::as_tuple(asio::use_awaitable));
            out.server = ec;
            s.next_layer().close();
        },
        "server");
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            tls_stream c(env.client_mux, cctx);
            co_await c.next_layer().async_connect(env.server(), asio::use_awaitable);
            prepare_client(c);
            auto [ec] = co_await c.async_handshake(ssl::stream_base::client,
                                                   asio::as_tuple(asio::use_awaitable));
            out.client = ec;
            out.client_verify_result = SSL_get_verify_result(c.native_handle());
            c.next_layer().close();
        },
        "client");
    // A failed handshake must end at once on both sides: nothing waits for a timeout.
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 10s, "failing handshake", t);
    require_run_returns(env.ioc, 10s, "failing handshake");
    return out;
}

/// Handshake with `prepare_client` applied to the client, one request/response of
/// pattern bytes, and a client-initiated shutdown. Returns the server's SSL_get_servername.
std::string good_exchange(loopback_env& env, ssl::context& sctx,
                          const std::function<void(tls_stream&)>& prepare_client,
                          const std::string& what) {
    ssl::context cctx = client_context();
    const std::uint64_t req = 10 * 1000 + 7, resp = 100 * 1000 + 3;
    std::string server_name = "(none)", version;
    run_server_and_client(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            tls_stream s(co_await env.acc.async_accept(asio::use_awaitable), sctx);
            co_await s.async_handshake(ssl::stream_base::server, asio::use_awaitable);
            if (const char* n = SSL_get_servername(s.native_handle(), TLSEXT_NAMETYPE_host_name))
                server_name = n;
            co_await read_pattern(s, 2001, req);
            co_await write_pattern(s, 2002, resp);
            co_await expect_eof(s, "server");
            co_await close_respond(s, "server");
        },
        [&]() -> asio::awaitable<void> {
            tls_stream c(env.client_mux, cctx);
            co_await c.next_layer().async_connect(env.server(), asio::use_awaitable);
            prepare_client(c);
            co_await c.async_handshake(ssl::stream_base::client, asio::use_awaitable);
            version = SSL_get_version(c.native_handle());
            co_await write_pattern(c, 2001, req);
            co_await read_pattern(c, 2002, resp);
            co_await close_initiate(c, "client");
        },
        20s, what);
    BOOST_TEST_MESSAGE(what << ": " << version << ", server name seen '" << server_name << "'");
    require_run_returns(env.ioc, 10s, what);
    return server_name;
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(bulk_both_ways_client_shuts_down, *utf::timeout(180)) {
    bulk_then_shutdown(true);
}

BOOST_AUTO_TEST_CASE(bulk_both_ways_server_shuts_down, *utf::timeout(180)) {
    bulk_then_shutdown(false);
}

BOOST_AUTO_TEST_CASE(untrusted_certificate, *utf::timeout(60)) {
    ssl::context cctx = client_context(/*trust_test_identity=*/false);
    const handshake_outcome r =
        failing_handshake(cctx, [](tls_stream& c) { set_client_host(c, "localhost"); });
    BOOST_REQUIRE(r.client && r.server);
    BOOST_TEST_MESSAGE("untrusted: client " << describe(*r.client) << ", verify result "
                                            << r.client_verify_result << " ("
                                            << X509_verify_cert_error_string(r.client_verify_result)
                                            << "); server " << describe(*r.server));
    BOOST_TEST(has_ssl_reason(*r.client, SSL_R_CERTIFICATE_VERIFY_FAILED), describe(*r.client));
    BOOST_TEST(r.client_verify_result == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    // The client's alert, not a lost connection, ends the server's handshake.
    BOOST_TEST(has_ssl_reason(*r.server, SSL_R_TLSV1_ALERT_UNKNOWN_CA), describe(*r.server));
}

BOOST_AUTO_TEST_CASE(host_name_mismatch, *utf::timeout(60)) {
    ssl::context cctx = client_context();
    const handshake_outcome r =
        failing_handshake(cctx, [](tls_stream& c) { set_client_host(c, "wrong.example"); });
    BOOST_REQUIRE(r.client && r.server);
    BOOST_TEST_MESSAGE("host name mismatch: client "
                       << describe(*r.client) << ", verify result " << r.client_verify_result
                       << " (" << X509_verify_cert_error_string(r.client_verify_result)
                       << "); server " << describe(*r.server));
    BOOST_TEST(has_ssl_reason(*r.client, SSL_R_CERTIFICATE_VERIFY_FAILED), describe(*r.client));
    BOOST_TEST(r.client_verify_result != X509_V_OK);
    BOOST_TEST((r.server->category() == asio::error::get_ssl_category()), describe(*r.server));
}

namespace {
struct sni_record {
    int calls = 0;
    std::string name;
};
int record_server_name(SSL* ssl, int*, void* arg) {
    auto* rec = static_cast<sni_record*>(arg);
    ++rec->calls;
    const char* n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    rec->name = n ? n : "(none)";
    return SSL_TLSEXT_ERR_OK;
}
} // namespace

BOOST_AUTO_TEST_CASE(sni, *utf::timeout(60)) {
    loopback_env env;
    ssl::context sctx = server_context();
    sni_record rec;
    SSL_CTX_set_tlsext_servername_callback(sctx.native_handle(), &record_server_name);
    SSL_CTX_set_tlsext_servername_arg(sctx.native_handle(), &rec);
    const std::string seen = good_exchange(
        env, sctx, [](tls_stream& c) { set_client_host(c, "utp.test"); }, "SNI utp.test");
    BOOST_TEST(rec.calls == 1);
    BOOST_TEST(rec.name == "utp.test");
    BOOST_TEST(seen == "utp.test");
}

BOOST_AUTO_TEST_CASE(ipv6, *utf::timeout(60)) {
    if (!have_ipv6()) {
        BOOST_TEST_MESSAGE("skipped: no IPv6 loopback (::1) here");
        return;
    }
    loopback_env env(loopback_v6());
    BOOST_TEST(env.server().address().is_v6());
    ssl::context sctx = server_context();
    // No SNI for an address literal (RFC 6066 §3); the certificate's IP:::1 is verified.
    good_exchange(
        env, sctx, [](tls_stream& c) { c.set_verify_callback(ssl::host_name_verification("::1")); },
        "TLS over µTP over ::1");
}

BOOST_AUTO_TEST_SUITE_END()
