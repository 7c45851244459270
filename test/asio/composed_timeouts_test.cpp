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
//  - ws_*, healthy_after_timeout: in composed_timeouts_ws_test.cpp.
#include "composed_timeouts_common.hpp"

using namespace utp_test;
using namespace utp_test::timeouts;
namespace utf = boost::unit_test;

namespace {

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

} // namespace

BOOST_AUTO_TEST_SUITE(composed_timeouts)

UTP_STOPPED_CASES(tls_handshake, tls_handshake)
UTP_STOPPED_CASES(tls_read, tls_read)
UTP_STOPPED_CASES(http_read_plain, http_read<utp::socket>)
UTP_STOPPED_CASES(http_read_tls, http_read<tls_socket>)

BOOST_AUTO_TEST_SUITE_END()
