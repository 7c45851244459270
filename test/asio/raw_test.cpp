// Suite `raw_datagrams`: a DHT on the µTP port. Datagrams that are not µTP (bencoded KRPC
// messages from a plain UDP socket) reach multiplexer::async_receive_from while a µTP
// transfer flows through the same port, and async_send_to puts raw datagrams on the wire.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <functional>
#include <optional>
#include <set>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

std::string node_id(char c) {
    return std::string(20, c);
}

/// A KRPC ping query (BEP 5) with a two-byte transaction id.
std::string ping_query(std::uint16_t tid) {
    const char t[2] = {static_cast<char>(tid >> 8), static_cast<char>(tid & 0xff)};
    return "d1:ad2:id20:" + node_id('Q') + "e1:q4:ping1:t2:" + std::string(t, 2) + "1:y1:qe";
}

/// The answer to ping_query(tid), from node `who`.
std::string ping_response(std::uint16_t tid, char who) {
    const char t[2] = {static_cast<char>(tid >> 8), static_cast<char>(tid & 0xff)};
    return "d1:rd2:id20:" + node_id(who) + "e1:t2:" + std::string(t, 2) + "1:y1:re";
}

/// Parse the transaction id of ping_query(): std::nullopt if `q` is not one.
std::optional<std::uint16_t> query_tid(const std::string& q) {
    const std::string head = "d1:ad2:id20:" + node_id('Q') + "e1:q4:ping1:t2:";
    if (q.size() != head.size() + 2 + 7 || q.compare(0, head.size(), head) != 0 ||
        q.compare(head.size() + 2, 7, "1:y1:qe") != 0)
        return std::nullopt;
    return static_cast<std::uint16_t>(static_cast<unsigned char>(q[head.size()]) << 8 |
                                      static_cast<unsigned char>(q[head.size() + 1]));
}

/// A DHT node on a multiplexer's port: answers every ping it receives, until `stop`.
asio::awaitable<void> dht_responder(utp::multiplexer& mux, char who, std::size_t expected,
                                    std::size_t& answered) {
    std::array<char, 1500> buf;
    udp::endpoint from;
    while (answered < expected) {
        const std::size_t n =
            co_await mux.async_receive_from(asio::buffer(buf), from, asio::use_awaitable);
        const auto tid = query_tid(std::string(buf.data(), n));
        EXPECT(tid.has_value(), "not a ping query: '" << std::string(buf.data(), n) << "'");
        const std::string r = ping_response(*tid, who);
        const std::size_t w =
            co_await mux.async_send_to(asio::buffer(r), from, asio::use_awaitable);
        EXPECT(w == r.size(), "raw send of " << w << " bytes");
        ++answered;
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(raw_datagrams)

BOOST_AUTO_TEST_CASE(dht_shares_the_port_with_a_transfer, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer& server_mux = acc.get_multiplexer();
    utp::multiplexer client_mux(ioc, loopback_v4());
    udp::socket dht(ioc, loopback_v4()); // a plain UDP DHT node elsewhere

    const std::uint64_t size = scaled(16 << 20, 4 << 20);
    const std::size_t queries_each = 64;
    const std::uint64_t spacing = size / (2 * queries_each + 1);
    tasks t;
    std::size_t answered_server = 0, answered_client = 0, queries_sent = 0;
    std::uint64_t received = 0;

    // Both multiplexers answer pings on their µTP ports.
    t.spawn(ioc, dht_responder(server_mux, 'S', queries_each, answered_server), "server DHT");
    t.spawn(ioc, dht_responder(client_mux, 'C', queries_each, answered_client), "client DHT");

    // The plain node collects the answers.
    std::set<std::pair<char, std::uint16_t>> answers;
    std::array<char, 1500> abuf;
    udp::endpoint afrom;
    std::function<void()> collect = [&] {
        dht.async_receive_from(asio::buffer(abuf), afrom, [&](error_code ec, std::size_t n) {
            if (ec) return;
            const std::string r(abuf.data(), n);
            const char who = afrom == server_mux.local_endpoint()   ? 'S'
                             : afrom == client_mux.local_endpoint() ? 'C'
                                                                    : '?';
            bool matched = false;
            for (std::uint16_t tid = 0; tid < 2 * queries_each && !matched; ++tid)
                if (r == ping_response(tid, who)) {
                    matched = answers.emplace(who, tid).second;
                }
            BOOST_TEST(matched, "unexpected answer from " << afrom << ": '" << r << "'");
            collect();
        });
    };
    collect();

    // The transfer. Every `spacing` bytes the receiver has read, the plain node sends a ping
    // to one of the two µTP ports, alternately: the pings arrive while data flows.
    auto send_query = [&] {
        const auto tid = static_cast<std::uint16_t>(queries_sent);
        const udp::endpoint to =
            queries_sent % 2 ? client_mux.local_endpoint() : server_mux.local_endpoint();
        dht.send_to(asio::buffer(ping_query(tid)), to);
        ++queries_sent;
    };
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket s(client_mux);
            co_await s.async_connect(acc.local_endpoint(), asio::use_awaitable);
            co_await send_pattern(s, 901, size);
        },
        "sender");
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await acc.async_accept(asio::use_awaitable);
            const pattern p(901);
            std::vector<std::uint8_t> buf(64 * 1024);
            for (;;) {
                auto [ec, n] = co_await s.async_read_some(asio::buffer(buf),
                                                          asio::as_tuple(asio::use_awaitable));
                if (ec == asio::error::eof) break;
                EXPECT(!ec, ec.message());
                EXPECT(p.mismatch(received, {buf.data(), n}) == n, "transfer corrupted");
                received += n;
                // The last threshold, 128/129 of the stream, is crossed before the end.
                while (queries_sent < 2 * queries_each && received >= (queries_sent + 1) * spacing)
                    send_query();
            }
            EXPECT(received == size, received);
        },
        "receiver");
    const run_result r = run_until(
        ioc,
        [&] {
            return !t.failures().empty() || (t.all_done() && answers.size() == 2 * queries_each);
        },
        30s);
    t.report();
    auto show = [](const utp::multiplexer_stats& st) {
        std::ostringstream os;
        os << "raw received " << st.raw_received << ", raw sent " << st.raw_sent << ", raw dropped "
           << st.raw_dropped << ", not µTP " << st.protocol.not_utp << ", datagrams in "
           << st.datagrams_received;
        return os.str();
    };
    BOOST_TEST_MESSAGE("DHT during a transfer: "
                       << r << "; queries sent " << queries_sent << ", answers " << answers.size()
                       << ", transferred " << received << "; server: " << show(server_mux.stats())
                       << "; client: " << show(client_mux.stats()));
    BOOST_REQUIRE(t.failures().empty());
    BOOST_REQUIRE_MESSAGE(r == run_result::done, "DHT during a transfer: " << r);
    BOOST_TEST(queries_sent == 2 * queries_each);
    BOOST_TEST(answered_server == queries_each);
    BOOST_TEST(answered_client == queries_each);
    for (utp::multiplexer* m : {&server_mux, &client_mux}) {
        const auto st = m->stats();
        BOOST_TEST(st.raw_received == queries_each);
        BOOST_TEST(st.raw_sent == queries_each);
        BOOST_TEST(st.raw_dropped == 0u);
        BOOST_TEST(st.protocol.not_utp == queries_each);
    }
    dht.close();
    require_run_returns(ioc, 10s, "DHT during a transfer");
}

// async_send_to from a multiplexer nobody uses for µTP; a datagram that arrives before
// anyone receives waits in the queue; close() aborts a pending raw receive.
BOOST_AUTO_TEST_CASE(raw_send_receive_and_close, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::multiplexer mux(ioc, loopback_v4());
    udp::socket plain(ioc, loopback_v4());

    const std::string hello = "d1:ad2:id20:" + node_id('H') + "e1:q4:ping1:t2:zz1:y1:qe";
    std::optional<error_code> sent;
    std::size_t sent_n = 0;
    mux.async_send_to(asio::buffer(hello), plain.local_endpoint(),
                      [&](error_code ec, std::size_t n) {
                          sent = ec;
                          sent_n = n;
                      });
    BOOST_TEST(!sent.has_value(), "completed inside the initiating call");
    std::array<char, 1500> buf;
    udp::endpoint from;
    std::optional<std::size_t> got;
    plain.async_receive_from(asio::buffer(buf), from, [&](error_code ec, std::size_t n) {
        BOOST_TEST(!ec, ec.message());
        got = n;
    });
    require_run_until(
        ioc, [&] { return sent && got; }, 5s, "raw send");
    BOOST_TEST(!*sent, sent->message());
    BOOST_TEST(sent_n == hello.size());
    BOOST_TEST(std::string(buf.data(), *got) == hello);
    BOOST_TEST(from == mux.local_endpoint());

    // A datagram that arrives while a receive is pending, then one that arrives before the
    // next receive starts (it must wait for it).
    std::optional<std::size_t> r1;
    udp::endpoint f1;
    std::array<char, 1500> b1;
    mux.async_receive_from(asio::buffer(b1), f1, [&](error_code ec, std::size_t n) {
        BOOST_TEST(!ec, ec.message());
        r1 = n;
    });
    ioc.poll();
    plain.send_to(asio::buffer(std::string("d1:y1:qe")), mux.local_endpoint());
    require_run_until(
        ioc, [&] { return r1.has_value(); }, 5s, "raw receive");
    BOOST_TEST(std::string(b1.data(), *r1) == "d1:y1:qe");
    BOOST_TEST(f1 == plain.local_endpoint());

    // Now nobody receives. A raw receive keeps the engine reading, so make the datagram
    // arrive while a (truncating) receive is pending, and a second one after it.
    std::array<char, 4> small;
    std::optional<std::size_t> r2;
    mux.async_receive_from(asio::buffer(small), f1, [&](error_code ec, std::size_t n) {
        BOOST_TEST(!ec, ec.message());
        r2 = n;
        plain.send_to(asio::buffer(std::string("d2:xxe")), mux.local_endpoint());
    });
    plain.send_to(asio::buffer(std::string("d4:spam4:eggse")), mux.local_endpoint());
    require_run_until(
        ioc, [&] { return r2.has_value(); }, 5s, "truncated raw receive");
    BOOST_TEST(*r2 == 4u);
    BOOST_TEST(std::string(small.data(), 4) == "d4:s");

    // close(): a pending raw receive completes with operation_aborted (the queued datagram,
    // if it came in meanwhile, may be delivered first).
    std::optional<error_code> aborted;
    std::function<void()> drain = [&] {
        mux.async_receive_from(asio::buffer(b1), f1, [&](error_code ec, std::size_t) {
            if (!ec) return drain();
            aborted = ec;
        });
    };
    drain();
    bool closed = false;
    asio::post(ioc, [&] {
        mux.close();
        closed = true;
    });
    require_run_until(
        ioc, [&] { return closed && aborted; }, 5s, "close aborts a raw receive");
    BOOST_TEST(*aborted == asio::error::operation_aborted, aborted->message());
    BOOST_TEST(!mux.is_open());
    std::optional<error_code> after;
    mux.async_send_to(asio::buffer(hello), plain.local_endpoint(),
                      [&](error_code ec, std::size_t) { after = ec; });
    require_run_until(
        ioc, [&] { return after.has_value(); }, 5s, "send after close");
    BOOST_TEST(!!*after, "raw send after close() succeeded");
    plain.close();
    require_run_returns(ioc, 5s, "raw datagrams");
}

BOOST_AUTO_TEST_SUITE_END()
