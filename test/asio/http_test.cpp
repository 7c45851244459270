//
// Suites `http` and `https_many_clients`: Boost.Beast HTTP/1.1 over utp::socket and over
// ssl::stream<utp::socket>, on real loopback µTP connections. Every exchange is written
// once, as a template over the stream type, and run over both.
//
// http:
//   keep_alive_plain / keep_alive_tls: 200 requests on one connection, request and
//     response bodies of varied sizes (0 to ~200 KB, Content-Length); every response's
//     sequence number, length and bytes are checked; the last request says
//     Connection: close, the server then ends the connection (FIN / close_notify) and
//     the client sees a clean eof.
//   chunked_plain / chunked_tls: a 64 MiB (8 MiB under sanitizers) response streamed
//     from `pattern` through buffer_body + response_serializer with chunked
//     transfer-encoding in pieces of varied size, read piecewise by a
//     response_parser<buffer_body>; chunk count, bytes and SHA-256 checked. Then a
//     64 MiB upload with Content-Length the other way, read piecewise by the server,
//     whose reply (the SHA-256 it computed) must match what the client sent.
//   close_socket_plain / close_socket_tls: beast::get_lowest_layer of the stream is
//     utp::socket& (static_assert), beast::close_socket() on it closes it, aborts the
//     pending read on that stream (operation_aborted), and the peer's pending
//     http::async_read ends: end_of_stream over plain µTP, ssl::error::stream_truncated
//     over TLS (the transport ended without close_notify, as over TCP).
// https_many_clients:
//   fifty_clients: 50 concurrent HTTPS clients, each on its own port, against one
//     server port (one multiplexer, one acceptor): handshake, 3 keep-alive requests of
//     64 KiB each way, close_notify shutdown; all 50 server sessions must end cleanly.
//
#include "http_common.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <optional>
#include <type_traits>

using namespace utp_test;
namespace utf = boost::unit_test;
namespace beast = boost::beast;

namespace {

// Inside the unnamed namespace only: the suite `http` is a namespace at global scope.
namespace http = beast::http;

// ---------------------------------------------------------------------------------------
// the two kinds of stream

struct plain_kind {
    using stream_type = utp::socket;
    static constexpr const char* name = "HTTP over µTP";
    stream_type server_stream(utp::socket s) { return s; }
    stream_type client_stream(utp::multiplexer& mux) { return stream_type(mux); }
    stream_type client_stream(asio::io_context& ioc) { return stream_type(ioc); }
    asio::awaitable<void> handshake(stream_type&, ssl::stream_base::handshake_type) { co_return; }
    // Beast reports a FIN before the first byte of a message as end_of_stream.
    static error_code peer_error_after_close_socket() { return http::error::end_of_stream; }
};

struct tls_kind {
    using stream_type = tls_stream;
    static constexpr const char* name = "HTTPS over µTP";
    ssl::context sctx = server_context(), cctx = client_context();
    stream_type server_stream(utp::socket s) { return stream_type(std::move(s), sctx); }
    stream_type client_stream(utp::multiplexer& mux) {
        stream_type c(mux, cctx);
        set_client_host(c, "localhost");
        return c;
    }
    stream_type client_stream(asio::io_context& ioc) {
        stream_type c(ioc, cctx);
        set_client_host(c, "localhost");
        return c;
    }
    asio::awaitable<void> handshake(stream_type& s, ssl::stream_base::handshake_type t) {
        co_await s.async_handshake(t, asio::use_awaitable);
    }
    // The µTP stream ended without close_notify: a truncation, exactly as over TCP.
    static error_code peer_error_after_close_socket() { return ssl::error::stream_truncated; }
};

static_assert(
    std::is_same_v<decltype(beast::get_lowest_layer(std::declval<tls_stream&>())), utp::socket&>);
static_assert(
    std::is_same_v<decltype(beast::get_lowest_layer(std::declval<utp::socket&>())), utp::socket&>);

std::string target_of(std::uint64_t tag, int i) {
    std::ostringstream os; // not string concatenation: GCC 12 -Wrestrict false positive
    os << '/' << tag << '/' << i;
    return os.str();
}

/// Parses "/<tag>/<i>".
bool parse_target(std::string_view t, std::uint64_t& tag, int& i) {
    if (t.empty() || t[0] != '/') return false;
    const char* end = t.data() + t.size();
    auto [p, ec] = std::from_chars(t.data() + 1, end, tag);
    if (ec != std::errc() || p == end || *p != '/') return false;
    auto [q, ec2] = std::from_chars(p + 1, end, i);
    return ec2 == std::errc() && q == end;
}

// ---------------------------------------------------------------------------------------
// keep-alive: many requests on one connection

/// What both ends of a keep-alive connection agree on: every size and byte follows from
/// the plan and the connection's tag, which the request target carries.
struct keep_alive_plan {
    int requests = 200;
    std::size_t max_request = 20000;
    std::size_t max_response = 200000;
    bool fixed_sizes = false; // every body exactly max_request / max_response

    std::size_t request_size(std::uint64_t tag, int i) const {
        if (fixed_sizes) return max_request;
        return i % 5 == 0 ? 0 : mix64(tag * 1000003 + i) % (max_request + 1);
    }
    std::size_t response_size(std::uint64_t tag, int i) const {
        if (fixed_sizes) return max_response;
        return i % 7 == 3 ? 0 : mix64(tag * 1000003 + i + 500000) % (max_response + 1);
    }
    static std::uint64_t request_tag(std::uint64_t tag, int i) { return tag * 100000 + 2 * i; }
    static std::uint64_t response_tag(std::uint64_t tag, int i) { return tag * 100000 + 2 * i + 1; }
};

/// Serves requests until one says Connection: close, then ends the connection first.
/// Returns the number of requests served.
template <class Stream>
asio::awaitable<int> keep_alive_server(Stream& s, const keep_alive_plan& plan) {
    beast::flat_buffer fb;
    int served = 0;
    for (bool more = true; more;) {
        http::request<http::string_body> req;
        co_await http::async_read(s, fb, req, asio::use_awaitable);
        std::uint64_t tag = 0;
        int i = -1;
        EXPECT(parse_target(req.target(), tag, i), "target '" << req.target() << "'");
        EXPECT(i == served, "request " << i << " arrived as number " << served);
        const std::size_t rs = plan.request_size(tag, i);
        EXPECT(req.method() == (rs ? http::verb::post : http::verb::get), "method of " << i);
        EXPECT(req.body().size() == rs,
               "request " << i << ": body " << req.body().size() << " bytes, expected " << rs);
        const std::span<const std::uint8_t> body(
            reinterpret_cast<const std::uint8_t*>(req.body().data()), req.body().size());
        EXPECT(pattern(plan.request_tag(tag, i)).mismatch(0, body) == rs,
               "request " << i << ": body differs");

        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::server, "utp-test");
        res.set(http::field::content_type, "application/octet-stream");
        res.set("X-Seq", std::to_string(i));
        res.body() = pattern_string(plan.response_tag(tag, i), plan.response_size(tag, i));
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        co_await http::async_write(s, res, asio::use_awaitable);
        ++served;
        more = req.keep_alive();
    }
    EXPECT(fb.size() == 0, fb.size() << " bytes after the last request");
    // HTTP/1.1: after a response with Connection: close the server closes first.
    co_await close_initiate(s, "http server");
    co_return served;
}

/// Sends plan.requests requests with connection tag `tag`, the last with
/// Connection: close, and checks every response. Returns the response body bytes read.
template <class Stream>
asio::awaitable<std::uint64_t> keep_alive_client(Stream& s, std::uint64_t tag,
                                                 const keep_alive_plan& plan) {
    beast::flat_buffer fb;
    std::uint64_t body_bytes = 0;
    for (int i = 0; i < plan.requests; ++i) {
        const std::size_t rs = plan.request_size(tag, i);
        http::request<http::string_body> req{rs ? http::verb::post : http::verb::get,
                                             target_of(tag, i), 11};
        req.set(http::field::host, "localhost");
        req.body() = pattern_string(plan.request_tag(tag, i), rs);
        req.keep_alive(i + 1 < plan.requests);
        req.prepare_payload();
        co_await http::async_write(s, req, asio::use_awaitable);

        http::response<http::string_body> res;
        co_await http::async_read(s, fb, res, asio::use_awaitable);
        const std::size_t expected = plan.response_size(tag, i);
        EXPECT(res.result() == http::status::ok, "response " << i << ": " << res.result_int());
        EXPECT(res["X-Seq"] == std::to_string(i),
               "response " << i << " has X-Seq '" << res["X-Seq"] << "'");
        EXPECT(!res.chunked() && res.has_content_length(), "response " << i << " framing");
        EXPECT(res[http::field::content_length] == std::to_string(expected),
               "response " << i << ": Content-Length " << res[http::field::content_length]
                           << ", expected " << expected);
        EXPECT(res.body().size() == expected, "response " << i << ": body size");
        const std::span<const std::uint8_t> body(
            reinterpret_cast<const std::uint8_t*>(res.body().data()), res.body().size());
        EXPECT(pattern(plan.response_tag(tag, i)).mismatch(0, body) == expected,
               "response " << i << ": body differs");
        EXPECT(res.keep_alive() == (i + 1 < plan.requests), "response " << i << " keep-alive");
        body_bytes += expected;
    }
    EXPECT(fb.size() == 0, fb.size() << " bytes after the last response");
    co_await expect_eof(s, "http client, after Connection: close");
    co_await close_respond(s, "http client");
    co_return body_bytes;
}

template <class Kind>
void keep_alive_test() {
    loopback_env env;
    Kind kind;
    keep_alive_plan plan;
    plan.max_response = scaled(200000, 50000);
    int served = 0;
    std::uint64_t received = 0;
    double seconds = 0;
    run_server_and_client(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            auto s = kind.server_stream(co_await env.acc.async_accept(asio::use_awaitable));
            co_await kind.handshake(s, ssl::stream_base::server);
            served = co_await keep_alive_server(s, plan);
        },
        [&]() -> asio::awaitable<void> {
            auto c = kind.client_stream(env.client_mux);
            co_await utp_of(c).async_connect(env.server(), asio::use_awaitable);
            co_await kind.handshake(c, ssl::stream_base::client);
            const auto t0 = steady::now();
            received = co_await keep_alive_client(c, 1, plan);
            seconds = seconds_since(t0);
        },
        60s, Kind::name);
    BOOST_TEST(served == plan.requests);
    BOOST_TEST(received > 0u);
    BOOST_TEST_MESSAGE(Kind::name << ", keep-alive: " << plan.requests << " requests, " << received
                                  << " response body bytes in " << seconds << " s ("
                                  << seconds / plan.requests * 1e3 << " ms per request)");
    require_run_returns(env.ioc, 10s, Kind::name);
}

// ---------------------------------------------------------------------------------------
// chunked download and streamed upload through buffer_body

constexpr std::uint64_t download_tag = 3001, upload_tag = 3002;

/// Piece `k` of a streamed body: 1 byte to 512 KiB, so chunks of very different sizes.
std::size_t piece_size(std::uint64_t k) {
    return 1 + static_cast<std::size_t>(mix64(k + 77) % (512 * 1024));
}

struct chunked_report {
    std::uint64_t pieces_sent = 0;
    std::uint64_t chunks_seen = 0;
    bool last_chunk_seen = false;
    std::string download_sent_sha, download_got_sha, upload_sent_sha, upload_got_sha, upload_reply;
    double download_s = 0, upload_s = 0;
};

template <class Stream>
asio::awaitable<void> chunked_server(Stream& s, std::uint64_t size, chunked_report& r) {
    beast::flat_buffer fb;
    fb.reserve(64 * 1024); // see chunked_client
    {
        http::request<http::empty_body> req;
        co_await http::async_read(s, fb, req, asio::use_awaitable);
        EXPECT(req.method() == http::verb::get && req.target() == "/download", "first request");

        http::response<http::buffer_body> res{http::status::ok, req.version()};
        res.set(http::field::content_type, "application/octet-stream");
        res.chunked(true);
        res.body().data = nullptr;
        res.body().more = true;
        http::response_serializer<http::buffer_body> sr{res};
        co_await http::async_write_header(s, sr, asio::use_awaitable);

        const pattern p(download_tag);
        sha256 h;
        std::vector<std::uint8_t> buf(512 * 1024);
        for (std::uint64_t off = 0; off < size; ++r.pieces_sent) {
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(piece_size(r.pieces_sent), size - off));
            p.fill(off, {buf.data(), n});
            h.update(buf.data(), n);
            res.body().data = buf.data();
            res.body().size = n;
            res.body().more = true;
            auto [ec, _] = co_await http::async_write(s, sr, asio::as_tuple(asio::use_awaitable));
            // need_buffer: the piece is written and the serializer waits for the next one.
            EXPECT(ec == http::error::need_buffer, "writing a piece: " << ec.message());
            off += n;
        }
        res.body().data = nullptr;
        res.body().size = 0;
        res.body().more = false;
        co_await http::async_write(s, sr, asio::use_awaitable); // the last chunk
        EXPECT(sr.is_done(), "serializer not done");
        r.download_sent_sha = h.hex();
    }
    {
        http::request_parser<http::buffer_body> p;
        p.body_limit(size);
        co_await http::async_read_header(s, fb, p, asio::use_awaitable);
        EXPECT(p.get().method() == http::verb::put && p.get().target() == "/upload",
               "second request");
        EXPECT(!p.chunked() && p.content_length() && *p.content_length() == size,
               "upload framing: Content-Length " << p.get()[http::field::content_length]);
        const pattern pat(upload_tag);
        sha256 h;
        std::vector<std::uint8_t> buf(64 * 1024);
        std::uint64_t got = 0;
        const auto t0 = steady::now();
        while (!p.is_done()) {
            p.get().body().data = buf.data();
            p.get().body().size = buf.size();
            auto [ec, _] = co_await http::async_read(s, fb, p, asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec || ec == http::error::need_buffer, "upload read: " << ec.message());
            const std::size_t n = buf.size() - p.get().body().size;
            const std::size_t bad = pat.mismatch(got, {buf.data(), n});
            EXPECT(bad == n, "upload differs at byte " << got + bad);
            h.update(buf.data(), n);
            got += n;
        }
        r.upload_s = seconds_since(t0);
        EXPECT(got == size, "upload: " << got << " of " << size << " bytes");
        r.upload_got_sha = h.hex();

        http::response<http::string_body> res{http::status::ok, p.get().version()};
        res.body() = r.upload_got_sha;
        res.keep_alive(false);
        res.prepare_payload();
        co_await http::async_write(s, res, asio::use_awaitable);
    }
    co_await close_initiate(s, "chunked server");
}

template <class Stream>
asio::awaitable<void> chunked_client(Stream& s, std::uint64_t size, chunked_report& r) {
    // Beast reads max(512, capacity - size) bytes per read_some: from a bare flat_buffer
    // that is 512-byte µTP reads, a third of the throughput (the keep-alive tests keep
    // that default path).
    beast::flat_buffer fb;
    fb.reserve(64 * 1024);
    {
        http::request<http::empty_body> req{http::verb::get, "/download", 11};
        req.set(http::field::host, "localhost");
        co_await http::async_write(s, req, asio::use_awaitable);

        http::response_parser<http::buffer_body> p;
        p.body_limit(size);
        auto on_chunk = [&](std::uint64_t n, beast::string_view, error_code&) {
            if (n == 0)
                r.last_chunk_seen = true;
            else
                ++r.chunks_seen;
        };
        p.on_chunk_header(on_chunk);
        const auto t0 = steady::now();
        co_await http::async_read_header(s, fb, p, asio::use_awaitable);
        EXPECT(p.get().result() == http::status::ok, "download status");
        EXPECT(p.chunked(), "download not chunked");
        const pattern pat(download_tag);
        sha256 h;
        std::vector<std::uint8_t> buf(64 * 1024);
        std::uint64_t got = 0;
        while (!p.is_done()) {
            p.get().body().data = buf.data();
            p.get().body().size = buf.size();
            auto [ec, _] = co_await http::async_read(s, fb, p, asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec || ec == http::error::need_buffer,
                   "download read after " << got << " bytes: " << ec.message());
            const std::size_t n = buf.size() - p.get().body().size;
            const std::size_t bad = pat.mismatch(got, {buf.data(), n});
            EXPECT(bad == n, "download differs at byte " << got + bad);
            h.update(buf.data(), n);
            got += n;
        }
        r.download_s = seconds_since(t0);
        EXPECT(got == size, "download: " << got << " of " << size << " bytes");
        r.download_got_sha = h.hex();
    }
    {
        http::request<http::buffer_body> req{http::verb::put, "/upload", 11};
        req.set(http::field::host, "localhost");
        req.content_length(size);
        req.body().data = nullptr;
        req.body().more = true;
        http::request_serializer<http::buffer_body> sr{req};
        co_await http::async_write_header(s, sr, asio::use_awaitable);
        const pattern pat(upload_tag);
        sha256 h;
        std::vector<std::uint8_t> buf(512 * 1024);
        for (std::uint64_t off = 0, k = 1000; off < size; ++k) {
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(piece_size(k), size - off));
            pat.fill(off, {buf.data(), n});
            h.update(buf.data(), n);
            req.body().data = buf.data();
            req.body().size = n;
            req.body().more = off + n < size;
            auto [ec, _] = co_await http::async_write(s, sr, asio::as_tuple(asio::use_awaitable));
            EXPECT(!ec || ec == http::error::need_buffer, "upload write: " << ec.message());
            off += n;
        }
        if (!sr.is_done()) {
            req.body().data = nullptr;
            req.body().size = 0;
            req.body().more = false;
            co_await http::async_write(s, sr, asio::use_awaitable);
        }
        EXPECT(sr.is_done(), "upload serializer not done");
        r.upload_sent_sha = h.hex();

        http::response<http::string_body> res;
        co_await http::async_read(s, fb, res, asio::use_awaitable);
        EXPECT(res.result() == http::status::ok && !res.keep_alive(), "upload response");
        r.upload_reply = res.body();
    }
    EXPECT(fb.size() == 0, fb.size() << " bytes after the last response");
    co_await expect_eof(s, "chunked client, after Connection: close");
    co_await close_respond(s, "chunked client");
}

template <class Kind>
void chunked_test() {
    loopback_env env;
    Kind kind;
    const std::uint64_t size = scaled(64u << 20, 8u << 20);
    chunked_report r;
    run_server_and_client(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            auto s = kind.server_stream(co_await env.acc.async_accept(asio::use_awaitable));
            co_await kind.handshake(s, ssl::stream_base::server);
            co_await chunked_server(s, size, r);
        },
        [&]() -> asio::awaitable<void> {
            auto c = kind.client_stream(env.client_mux);
            co_await utp_of(c).async_connect(env.server(), asio::use_awaitable);
            co_await kind.handshake(c, ssl::stream_base::client);
            co_await chunked_client(c, size, r);
        },
        120s, Kind::name);
    const std::string download_sha = pattern_sha256(download_tag, size);
    const std::string upload_sha = pattern_sha256(upload_tag, size);
    BOOST_TEST(r.download_sent_sha == download_sha);
    BOOST_TEST(r.download_got_sha == download_sha);
    BOOST_TEST(r.upload_sent_sha == upload_sha);
    BOOST_TEST(r.upload_got_sha == upload_sha);
    BOOST_TEST(r.upload_reply == upload_sha);
    // One chunk per piece written: the serializer neither merged nor split them.
    BOOST_TEST(r.chunks_seen == r.pieces_sent);
    BOOST_TEST(r.pieces_sent > 10u);
    BOOST_TEST(r.last_chunk_seen);
    BOOST_TEST_MESSAGE(Kind::name << ": chunked download of " << (size >> 20) << " MiB in "
                                  << r.chunks_seen << " chunks, " << r.download_s << " s ("
                                  << mib_per_s(size, r.download_s) << " MiB/s); upload with "
                                  << "Content-Length " << r.upload_s << " s ("
                                  << mib_per_s(size, r.upload_s) << " MiB/s)");
    require_run_returns(env.ioc, 10s, Kind::name);
}

// ---------------------------------------------------------------------------------------
// beast::close_socket on the lowest layer

template <class Kind>
void close_socket_test() {
    const error_code expected_peer_error = Kind::peer_error_after_close_socket();
    loopback_env env;
    Kind kind;
    using stream_type = typename Kind::stream_type;
    std::optional<stream_type> srv, cli;
    keep_alive_plan one;
    one.requests = 1;
    one.fixed_sizes = true;
    one.max_request = 1000;
    one.max_response = 3000;
    run_server_and_client(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            srv.emplace(kind.server_stream(co_await env.acc.async_accept(asio::use_awaitable)));
            co_await kind.handshake(*srv, ssl::stream_base::server);
            beast::flat_buffer fb;
            http::request<http::string_body> req;
            co_await http::async_read(*srv, fb, req, asio::use_awaitable);
            EXPECT(req.body() == pattern_string(5, 1000), "request body");
            http::response<http::string_body> res{http::status::ok, 11};
            res.body() = pattern_string(6, 3000);
            res.prepare_payload();
            co_await http::async_write(*srv, res, asio::use_awaitable);
        },
        [&]() -> asio::awaitable<void> {
            cli.emplace(kind.client_stream(env.client_mux));
            co_await utp_of(*cli).async_connect(env.server(), asio::use_awaitable);
            co_await kind.handshake(*cli, ssl::stream_base::client);
            http::request<http::string_body> req{http::verb::post, "/", 11};
            req.body() = pattern_string(5, 1000);
            req.prepare_payload();
            co_await http::async_write(*cli, req, asio::use_awaitable);
            beast::flat_buffer fb;
            http::response<http::string_body> res;
            co_await http::async_read(*cli, fb, res, asio::use_awaitable);
            EXPECT(res.body() == pattern_string(6, 3000), "response body");
        },
        20s, "exchange before close_socket");

    // Both ends wait: the server for a next request, the client for anything.
    std::optional<error_code> server_read, client_read;
    std::size_t client_n = 1;
    beast::flat_buffer sfb;
    http::request<http::string_body> next;
    http::async_read(*srv, sfb, next, [&](error_code ec, std::size_t) { server_read = ec; });
    std::array<char, 512> cbuf;
    cli->async_read_some(asio::buffer(cbuf), [&](error_code ec, std::size_t n) {
        client_read = ec;
        client_n = n;
    });
    env.ioc.poll(); // let both reads reach the µTP sockets
    BOOST_REQUIRE(!server_read && !client_read);

    utp::socket& lowest = beast::get_lowest_layer(*cli);
    BOOST_TEST(&lowest == &utp_of(*cli));
    BOOST_TEST(lowest.is_open());
    beast::close_socket(lowest);
    BOOST_TEST(!lowest.is_open());
    BOOST_TEST(!client_read.has_value(), "completed inside close_socket()");
    require_run_until(
        env.ioc, [&] { return server_read && client_read; }, 10s, "reads after close_socket");
    BOOST_TEST_MESSAGE(Kind::name << ": after close_socket the closing side's read gave '"
                                  << client_read->message() << "', the peer's http::async_read '"
                                  << server_read->message() << "' ("
                                  << server_read->category().name() << ")");
    BOOST_TEST(*client_read == asio::error::operation_aborted, client_read->message());
    BOOST_TEST(client_n == 0u);
    BOOST_TEST(*server_read == expected_peer_error, server_read->message());
    utp_of(*srv).close();
    require_run_returns(env.ioc, 10s, "close_socket");
}

} // namespace

BOOST_AUTO_TEST_SUITE(http)

BOOST_AUTO_TEST_CASE(keep_alive_plain, *utf::timeout(120)) {
    keep_alive_test<plain_kind>();
}
BOOST_AUTO_TEST_CASE(keep_alive_tls, *utf::timeout(120)) {
    keep_alive_test<tls_kind>();
}
BOOST_AUTO_TEST_CASE(chunked_plain, *utf::timeout(180)) {
    chunked_test<plain_kind>();
}
BOOST_AUTO_TEST_CASE(chunked_tls, *utf::timeout(180)) {
    chunked_test<tls_kind>();
}

BOOST_AUTO_TEST_CASE(close_socket_plain, *utf::timeout(60)) {
    close_socket_test<plain_kind>();
}
BOOST_AUTO_TEST_CASE(close_socket_tls, *utf::timeout(60)) {
    close_socket_test<tls_kind>();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(https_many_clients)

BOOST_AUTO_TEST_CASE(fifty_clients, *utf::timeout(240)) {
    constexpr int clients = 50;
    loopback_env env;
    tls_kind kind;
    tasks t;
    keep_alive_plan plan;
    plan.requests = 3;
    plan.fixed_sizes = true;
    plan.max_request = 64 * 1024;
    plan.max_response = 64 * 1024;
    int sessions_ok = 0, clients_ok = 0;

    const auto t0 = steady::now();
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            for (int k = 0; k < clients; ++k) {
                utp::socket raw = co_await env.acc.async_accept(asio::use_awaitable);
                t.spawn(
                    env.ioc,
                    [&, raw = std::move(raw)]() mutable -> asio::awaitable<void> {
                        auto s = kind.server_stream(std::move(raw));
                        co_await kind.handshake(s, ssl::stream_base::server);
                        const int served = co_await keep_alive_server(s, plan);
                        EXPECT(served == plan.requests, "session served " << served);
                        ++sessions_ok;
                    },
                    "server session");
            }
        },
        "acceptor");
    for (int k = 0; k < clients; ++k)
        t.spawn(
            env.ioc,
            [&, k]() -> asio::awaitable<void> {
                // Each client on a port of its own (a private multiplexer).
                auto c = kind.client_stream(env.ioc);
                co_await utp_of(c).async_connect(env.server(), asio::use_awaitable);
                co_await kind.handshake(c, ssl::stream_base::client);
                const std::uint64_t got = co_await keep_alive_client(c, 100 + k, plan);
                EXPECT(got == plan.requests * plan.max_response, "client " << k << ": " << got);
                ++clients_ok;
            },
            "client " + std::to_string(k));

    const auto limit = sanitizer_build() ? 180s : 60s;
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, limit, "50 HTTPS clients", t);
    const double wall = seconds_since(t0);
    BOOST_TEST(sessions_ok == clients);
    BOOST_TEST(clients_ok == clients);
    BOOST_TEST(t.started() == std::size_t(2 * clients + 1));
    BOOST_TEST_MESSAGE(clients << " HTTPS-over-µTP clients, one server port, " << plan.requests
                               << " keep-alive requests of " << plan.max_request / 1024
                               << " KiB each way per client: " << wall << " s wall time");
    const auto stats = env.server_mux.stats();
    BOOST_TEST_MESSAGE("server multiplexer: " << stats.datagrams_received << " datagrams in, "
                                              << stats.protocol.resets_sent << " RESETs sent");
    require_run_returns(env.ioc, 20s, "50 HTTPS clients");
}

BOOST_AUTO_TEST_SUITE_END()
