// Suite `bulk`: 1 GiB over loopback (64 MiB in an instrumented build), generated on the fly
// and checked by SHA-256 at both ends (OpenSSL EVP); prints the throughput.
#include "common.hpp"

#include <openssl/evp.h>

#include <iomanip>
#include <iostream>
#include <memory>

using namespace utp_test;
namespace utf = boost::unit_test;

namespace {

class sha256 {
public:
    sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
            throw std::runtime_error("EVP_DigestInit_ex failed");
    }
    void update(const void* p, std::size_t n) {
        if (EVP_DigestUpdate(ctx_.get(), p, n) != 1)
            throw std::runtime_error("EVP_DigestUpdate failed");
    }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1)
            throw std::runtime_error("EVP_DigestFinal_ex failed");
        std::ostringstream os;
        for (unsigned i = 0; i < len; ++i)
            os << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(md[i]);
        return os.str();
    }

private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(bulk)

BOOST_AUTO_TEST_CASE(one_gibibyte_sha256, *utf::timeout(300)) {
    const std::uint64_t size = scaled(std::uint64_t{1} << 30, std::uint64_t{64} << 20);
    constexpr std::size_t chunk = 256 * 1024;
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    tasks t;
    std::string sent_digest, received_digest;
    std::uint64_t received = 0;
    steady::time_point t0, t1;
    utp::proto::connection_stats sender_stats;

    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket s(client_mux);
            co_await s.async_connect(acc.local_endpoint(), asio::use_awaitable);
            t0 = steady::now();
            // The stream is made chunk by chunk as it goes out: never 1 GiB in memory.
            const pattern p(1001);
            sha256 h;
            std::vector<std::uint8_t> buf(chunk);
            for (std::uint64_t off = 0; off < size; off += chunk) {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size - off));
                p.fill(off, {buf.data(), n});
                h.update(buf.data(), n);
                co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::use_awaitable);
            }
            s.shutdown(asio::socket_base::shutdown_send);
            sent_digest = h.hex();
            // Wait for the receiver's close, so the stats cover the whole transfer.
            std::uint8_t b;
            auto [ec, n] = co_await s.async_read_some(asio::buffer(&b, 1),
                                                      asio::as_tuple(asio::use_awaitable));
            EXPECT(ec == asio::error::eof, ec.message() << " n=" << n);
            sender_stats = s.stats();
        },
        "sender");
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await acc.async_accept(asio::use_awaitable);
            sha256 h;
            std::vector<std::uint8_t> buf(chunk);
            for (;;) {
                auto [ec, n] = co_await s.async_read_some(asio::buffer(buf),
                                                          asio::as_tuple(asio::use_awaitable));
                if (ec == asio::error::eof) break;
                EXPECT(!ec, "after " << received << " bytes: " << ec.message());
                h.update(buf.data(), n);
                received += n;
            }
            t1 = steady::now();
            received_digest = h.hex();
            s.shutdown(asio::socket_base::shutdown_send);
        },
        "receiver");
    require_run_until(
        ioc, [&] { return t.all_done(); }, 240s, "bulk transfer", t);

    BOOST_TEST(received == size);
    BOOST_TEST(!sent_digest.empty());
    BOOST_TEST(received_digest == sent_digest);
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    std::cout << "bulk: " << size / double(1 << 20) << " MiB in " << dt
              << " s = " << size / dt / 1e6 << " MB/s (" << size * 8 / dt / 1e9
              << " Gbit/s) over loopback, "
              << "sha256 " << received_digest.substr(0, 16)
              << "…; sender: " << sender_stats.packets_sent << " packets, "
              << sender_stats.retransmits << " retransmits, rtt " << sender_stats.rtt.count()
              << " us, cwnd " << sender_stats.cwnd << std::endl;
    require_run_returns(ioc, 10s, "bulk transfer");
}

BOOST_AUTO_TEST_SUITE_END()
