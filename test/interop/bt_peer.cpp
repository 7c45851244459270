#include "bt_peer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <tuple>

namespace interop {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

enum message_id : std::uint8_t {
    choke = 0,
    unchoke = 1,
    interested = 2,
    not_interested = 3,
    have = 4,
    bitfield = 5,
    request = 6,
    piece = 7,
    cancel = 8,
};

constexpr std::string_view protocol = "BitTorrent protocol";
constexpr std::size_t handshake_size = 68;
// Longest message we accept: a piece message of a 128 KiB block (we request 16 KiB; the
// bound only protects the reader from a corrupt length prefix).
constexpr std::uint32_t max_message = 128 * 1024 + 9;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("bt: " + what);
}

void put32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

std::uint32_t get32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 |
           std::uint32_t{p[3]};
}

std::string printable(std::span<const std::uint8_t> id) {
    std::string out;
    for (auto c : id)
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    return out;
}

std::array<std::uint8_t, handshake_size> make_handshake(const torrent& t) {
    std::array<std::uint8_t, handshake_size> h{};
    h[0] = static_cast<std::uint8_t>(protocol.size());
    std::memcpy(&h[1], protocol.data(), protocol.size());
    // h[20..27]: reserved, all zero: no extension protocol, no fast extension, no DHT.
    std::memcpy(&h[28], t.info_hash.data(), 20);
    const std::string id = our_peer_id();
    std::memcpy(&h[48], id.data(), 20);
    return h;
}

/// Reads their handshake; returns their peer id.
awaitable<std::string> read_handshake(utp::socket& s, const torrent& t) {
    std::array<std::uint8_t, handshake_size> h{};
    co_await asio::async_read(s, asio::buffer(h), use_awaitable);
    if (h[0] != protocol.size() || std::memcmp(&h[1], protocol.data(), protocol.size()) != 0)
        fail("not a BitTorrent handshake");
    if (std::memcmp(&h[28], t.info_hash.data(), 20) != 0) fail("handshake for another torrent");
    co_return printable({&h[48], 20});
}

/// Exchanges handshakes, ours first if `we_start`; sets `r`'s peer id and handshake times.
awaitable<void> handshake(utp::socket& s, const torrent& t, bool we_start, transfer_report& r) {
    const auto ours = make_handshake(t);
    const auto write_ours = [&]() -> awaitable<void> {
        co_await asio::async_write(s, asio::buffer(ours), use_awaitable);
        r.handshake_written = std::chrono::steady_clock::now();
    };
    if (we_start) co_await write_ours();
    r.peer_id = co_await read_handshake(s, t);
    r.handshake_read = std::chrono::steady_clock::now();
    if (!we_start) co_await write_ours();
}

/// One message: id and payload (empty id for a keep-alive).
struct message {
    bool keep_alive = false;
    std::uint8_t id = 0;
    std::vector<std::uint8_t> payload;
};

/// Reads one message into `m`; returns the I/O error that ended the stream, if any.
awaitable<boost::system::error_code> read_message(utp::socket& s, message& m) {
    std::array<std::uint8_t, 4> len{};
    auto [ec, got] = co_await asio::async_read(s, asio::buffer(len), asio::as_tuple(use_awaitable));
    if (ec) co_return ec;
    const std::uint32_t n = get32(len.data());
    if (n > max_message) fail("message of " + std::to_string(n) + " bytes");
    m.keep_alive = n == 0;
    if (n == 0) co_return ec;
    m.payload.resize(n);
    std::tie(ec, got) =
        co_await asio::async_read(s, asio::buffer(m.payload), asio::as_tuple(use_awaitable));
    m.id = m.payload[0];
    co_return ec;
}

void append_message(std::vector<std::uint8_t>& out, std::uint8_t id,
                    std::initializer_list<std::uint32_t> ints = {}) {
    const std::size_t at = out.size();
    out.resize(at + 5 + 4 * ints.size());
    put32(&out[at], static_cast<std::uint32_t>(1 + 4 * ints.size()));
    out[at + 4] = id;
    std::size_t i = at + 5;
    for (auto v : ints) {
        put32(&out[i], v);
        i += 4;
    }
}

struct block {
    std::uint32_t piece;
    std::uint32_t begin;
    std::uint32_t length;
};

} // namespace

std::string our_peer_id() {
    return "-UT0001-utpinterop01";
}

awaitable<transfer_report> download(utp::socket& s, const torrent& t,
                                    std::vector<std::uint8_t>& out, download_options opt) {
    transfer_report r;
    out.assign(t.length, 0);
    co_await handshake(s, t, true, r);

    std::vector<std::uint8_t> wire;
    append_message(wire, interested);
    co_await asio::async_write(s, asio::buffer(wire), use_awaitable);

    // Every block to fetch, in order; requests in flight; what each piece still misses.
    std::deque<block> todo;
    for (std::uint32_t p = 0; p < t.piece_count(); ++p)
        for (std::uint32_t b = 0; b < t.piece_size(p); b += opt.block_size)
            todo.push_back({p, b, std::min(opt.block_size, t.piece_size(p) - b)});
    std::deque<block> in_flight;
    std::vector<std::uint32_t> missing(t.piece_count());
    for (std::uint32_t p = 0; p < t.piece_count(); ++p)
        missing[p] = t.piece_size(p);
    std::vector<bool> peer_has(t.piece_count(), false);
    bool choked = true;
    std::size_t verified = 0;

    message m;
    while (verified < t.piece_count()) {
        const auto ec = co_await read_message(s, m);
        if (ec)
            throw boost::system::system_error(ec, "download after " + std::to_string(r.bytes) +
                                                      " bytes");
        if (m.keep_alive) continue;
        const std::uint8_t* p = m.payload.data() + 1;
        const std::size_t n = m.payload.size() - 1;
        switch (m.id) {
        case choke:
            // BEP-3: a choke discards our outstanding requests; ask again after unchoke.
            choked = true;
            ++r.chokes;
            todo.insert(todo.begin(), in_flight.begin(), in_flight.end());
            in_flight.clear();
            break;
        case unchoke:
            choked = false;
            break;
        case have:
            if (n != 4 || get32(p) >= t.piece_count()) fail("bad have");
            peer_has[get32(p)] = true;
            break;
        case bitfield:
            if (n != (t.piece_count() + 7) / 8) fail("bitfield of the wrong size");
            for (std::size_t i = 0; i < t.piece_count(); ++i)
                peer_has[i] = (p[i / 8] >> (7 - i % 8)) & 1;
            break;
        case piece: {
            if (n < 8) fail("short piece message");
            const block b{get32(p), get32(p + 4), static_cast<std::uint32_t>(n - 8)};
            auto it = std::find_if(in_flight.begin(), in_flight.end(), [&](const block& x) {
                return x.piece == b.piece && x.begin == b.begin && x.length == b.length;
            });
            if (it == in_flight.end()) break; // late, after a choke: requested again anyway
            in_flight.erase(it);
            std::memcpy(out.data() + std::uint64_t{b.piece} * t.piece_length + b.begin, p + 8,
                        b.length);
            if (r.bytes == 0) r.first_payload = std::chrono::steady_clock::now();
            r.bytes += b.length;
            r.last_payload = std::chrono::steady_clock::now();
            missing[b.piece] -= b.length;
            if (missing[b.piece] == 0) {
                const std::span<const std::uint8_t> whole(
                    out.data() + std::uint64_t{b.piece} * t.piece_length, t.piece_size(b.piece));
                if (!t.piece_ok(b.piece, whole)) {
                    ++r.hash_failures;
                    fail("piece " + std::to_string(b.piece) + " fails its SHA-1 check");
                }
                ++verified;
                ++r.pieces;
                if (opt.on_progress) opt.on_progress(std::uint64_t{verified} * t.piece_length);
            }
            break;
        }
        default:
            break; // interested, not interested, request, cancel, port...: not for a leecher
        }
        if (choked) continue;
        wire.clear();
        for (auto it = todo.begin(); it != todo.end() && in_flight.size() < opt.pipeline;) {
            if (!peer_has[it->piece]) {
                ++it;
                continue;
            }
            append_message(wire, request, {it->piece, it->begin, it->length});
            in_flight.push_back(*it);
            it = todo.erase(it);
        }
        if (!wire.empty()) co_await asio::async_write(s, asio::buffer(wire), use_awaitable);
    }
    co_return r;
}

awaitable<transfer_report> seed(utp::socket& s, const torrent& t,
                                std::span<const std::uint8_t> data, bool we_start) {
    transfer_report r;
    co_await handshake(s, t, we_start, r);

    std::vector<std::uint8_t> wire;
    // Bitfield: every piece, the spare bits of the last byte zero.
    const std::size_t bytes = (t.piece_count() + 7) / 8;
    wire.resize(5 + bytes, 0);
    put32(wire.data(), static_cast<std::uint32_t>(1 + bytes));
    wire[4] = bitfield;
    for (std::size_t i = 0; i < t.piece_count(); ++i)
        wire[5 + i / 8] |= static_cast<std::uint8_t>(0x80 >> (i % 8));
    append_message(wire, unchoke);
    co_await asio::async_write(s, asio::buffer(wire), use_awaitable);

    message m;
    std::array<std::uint8_t, 13> header{};
    for (;;) {
        const auto ec = co_await read_message(s, m);
        if (ec) {
            r.end = ec;
            co_return r;
        }
        if (m.keep_alive || m.id != request) continue;
        const std::uint8_t* p = m.payload.data() + 1;
        if (m.payload.size() != 13) fail("bad request");
        const block b{get32(p), get32(p + 4), get32(p + 8)};
        if (b.piece >= t.piece_count() || b.length == 0 || b.length > 128 * 1024 ||
            std::uint64_t{b.begin} + b.length > t.piece_size(b.piece))
            fail("request out of range");
        put32(header.data(), 9 + b.length);
        header[4] = piece;
        put32(&header[5], b.piece);
        put32(&header[9], b.begin);
        const std::array<asio::const_buffer, 2> msg{
            asio::buffer(header),
            asio::buffer(data.data() + std::uint64_t{b.piece} * t.piece_length + b.begin,
                         b.length)};
        if (r.bytes == 0) r.first_payload = std::chrono::steady_clock::now();
        co_await asio::async_write(s, msg, use_awaitable);
        r.bytes += b.length;
        r.last_payload = std::chrono::steady_clock::now();
        ++r.pieces;
    }
}

} // namespace interop
