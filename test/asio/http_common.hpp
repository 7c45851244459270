//
// test/asio/http_common.hpp — pieces shared by the TLS and HTTP composition tests: a
// loopback server/client pair of multiplexers, SHA-256, byte-stream checks over any
// AsyncStream (utp::socket or ssl::stream<utp::socket>), and the graceful end of a
// connection for both kinds of stream (FIN for plain µTP, close_notify for TLS).
//
#ifndef UTP_TEST_ASIO_HTTP_COMMON_HPP
#define UTP_TEST_ASIO_HTTP_COMMON_HPP

#include "common.hpp"
#include "tls_common.hpp"

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <string>

namespace utp_test {

using tls_stream = ssl::stream<utp::socket>;

/// A server port with its acceptor and a client port, both on `family`'s loopback.
struct loopback_env {
    explicit loopback_env(const udp::endpoint& family = loopback_v4())
        : server_mux(ioc, family), acc(server_mux), client_mux(ioc, family) {}
    udp::endpoint server() const { return server_mux.local_endpoint(); }

    asio::io_context ioc;
    utp::multiplexer server_mux;
    utp::acceptor acc;
    utp::multiplexer client_mux;
};

/// Incremental SHA-256 (OpenSSL EVP).
class sha256 {
public:
    sha256() {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
            throw std::runtime_error("EVP_DigestInit_ex");
    }
    void update(const void* p, std::size_t n) {
        if (n != 0 && EVP_DigestUpdate(ctx_.get(), p, n) != 1)
            throw std::runtime_error("EVP_DigestUpdate");
    }
    /// The digest as lower-case hex; the object may not be updated afterwards.
    std::string hex() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx_.get(), md.data(), &len) != 1)
            throw std::runtime_error("EVP_DigestFinal_ex");
        static const char digits[] = "0123456789abcdef";
        std::string out;
        for (unsigned int i = 0; i < len; ++i) {
            out += digits[md[i] >> 4];
            out += digits[md[i] & 15];
        }
        return out;
    }

private:
    struct free_ctx {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
    };
    std::unique_ptr<EVP_MD_CTX, free_ctx> ctx_{EVP_MD_CTX_new()};
};

/// SHA-256 of the first `size` bytes of stream `tag`.
inline std::string pattern_sha256(std::uint64_t tag, std::uint64_t size) {
    const pattern p(tag);
    sha256 h;
    std::vector<std::uint8_t> buf(256 * 1024);
    for (std::uint64_t off = 0; off < size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
        p.fill(off, {buf.data(), n});
        h.update(buf.data(), n);
        off += n;
    }
    return h.hex();
}

/// `size` bytes of stream `tag` as a string (an HTTP string_body).
inline std::string pattern_string(std::uint64_t tag, std::size_t size) {
    std::string s(size, '\0');
    pattern(tag).fill(0, {reinterpret_cast<std::uint8_t*>(s.data()), size});
    return s;
}

inline double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

inline double mib_per_s(std::uint64_t bytes, double seconds) {
    return seconds > 0 ? static_cast<double>(bytes) / (1024.0 * 1024.0) / seconds : 0.0;
}

// ---------------------------------------------------------------------------------------
// byte streams over any AsyncStream

/// Write `size` bytes of stream `tag` in chunks of at most `chunk`; no shutdown (the
/// stream stays usable for a TLS close_notify or more data).
template <class Stream>
asio::awaitable<void> write_pattern(Stream& s, std::uint64_t tag, std::uint64_t size,
                                    std::size_t chunk = 64 * 1024) {
    const pattern p(tag);
    std::vector<std::uint8_t> buf(std::max<std::size_t>(1, std::min<std::uint64_t>(chunk, size)));
    for (std::uint64_t off = 0; off < size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
        p.fill(off, {buf.data(), n});
        co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::use_awaitable);
        off += n;
    }
}

/// Read exactly `size` bytes (no end of stream expected), checking each against stream
/// `tag`; returns their SHA-256.
template <class Stream>
asio::awaitable<std::string> read_pattern(Stream& s, std::uint64_t tag, std::uint64_t size) {
    const pattern p(tag);
    sha256 h;
    std::vector<std::uint8_t> buf(64 * 1024);
    for (std::uint64_t got = 0; got < size;) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - got));
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf.data(), want),
                                                  asio::as_tuple(asio::use_awaitable));
        EXPECT(!ec, "read after " << got << " of " << size << " bytes: " << ec.message());
        const std::size_t bad = p.mismatch(got, {buf.data(), n});
        EXPECT(bad == n, "stream " << tag << " differs at byte " << got + bad);
        h.update(buf.data(), n);
        got += n;
    }
    co_return h.hex();
}

/// The next read must report a clean end of stream: `eof` with nothing read. Over TLS
/// that is the peer's close_notify; a transport end without it would be stream_truncated.
template <class Stream>
asio::awaitable<void> expect_eof(Stream& s, const char* who) {
    std::array<std::uint8_t, 256> b;
    auto [ec, n] = co_await s.async_read_some(asio::buffer(b), asio::as_tuple(asio::use_awaitable));
    EXPECT(ec == asio::error::eof && n == 0, who << ": read gave '" << ec.message() << "' ("
                                                 << ec.category().name() << ":" << ec.value()
                                                 << ") n=" << n << ", expected a clean eof");
}

// ---------------------------------------------------------------------------------------
// graceful end of a connection: the side that ends first "initiates", the other side
// "responds" after it has read the initiator's end of stream

/// Plain µTP: FIN, then wait for the peer's FIN, then close.
inline asio::awaitable<void> close_initiate(utp::socket& s, const char* who) {
    s.shutdown(asio::socket_base::shutdown_send);
    co_await expect_eof(s, who);
    s.close();
}

/// Plain µTP, the peer's FIN already read: close (a graceful close sends our FIN).
inline asio::awaitable<void> close_respond(utp::socket& s, const char*) {
    s.close();
    co_return;
}

/// TLS: close_notify both ways. The initiator's async_shutdown sends its close_notify
/// and completes, with success, on the peer's; then the µTP connection is closed.
inline asio::awaitable<void> close_initiate(tls_stream& s, const char* who) {
    auto [ec] = co_await s.async_shutdown(asio::as_tuple(asio::use_awaitable));
    EXPECT(!ec, who << ": TLS shutdown (initiator) gave '" << ec.message() << "' ("
                    << ec.category().name() << ":" << ec.value() << ")");
    s.next_layer().close();
}

/// TLS, the peer's close_notify already read (as eof): answering with ours completes
/// the shutdown at once.
inline asio::awaitable<void> close_respond(tls_stream& s, const char* who) {
    auto [ec] = co_await s.async_shutdown(asio::as_tuple(asio::use_awaitable));
    EXPECT(!ec, who << ": TLS shutdown (responder) gave '" << ec.message() << "' ("
                    << ec.category().name() << ":" << ec.value() << ")");
    s.next_layer().close();
}

/// Where the µTP socket of either kind of stream is.
inline utp::socket& utp_of(utp::socket& s) {
    return s;
}
inline utp::socket& utp_of(tls_stream& s) {
    return s.next_layer();
}

} // namespace utp_test

#endif
