//
// test/interop/bt_peer.hpp — a minimal BitTorrent peer (BEP-3 peer wire protocol) over a
// utp::socket: enough to download a whole torrent from, or seed it to, libtorrent and
// Transmission.
//
// No extensions are announced (the reserved bytes are zero), so peers speak plain BEP-3:
// handshake, bitfield, interested / unchoke, request / piece.
//
#ifndef UTP_TEST_INTEROP_BT_PEER_HPP
#define UTP_TEST_INTEROP_BT_PEER_HPP

#include "torrent.hpp"

#include <utp.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace interop {

/// Our 20-byte peer id (Azureus style, "-UT0001-" + fixed tail).
std::string our_peer_id();

struct download_options {
    std::uint32_t block_size = 16 * 1024;
    /// Requests kept outstanding. Transmission drops requests beyond its queue (512 in
    /// 3.00), libtorrent accepts more; this stays well inside both.
    std::size_t pipeline = 256;
    /// Called after every verified piece with the bytes verified so far.
    std::function<void(std::uint64_t)> on_progress;
};

struct transfer_report {
    std::uint64_t bytes = 0; ///< payload bytes received (download) or sent (seed)
    std::size_t pieces = 0;  ///< pieces verified (download) or requests served (seed)
    std::size_t hash_failures = 0;
    std::size_t chokes = 0;        ///< times the peer choked us (download)
    std::string peer_id;           ///< the remote peer id, printable
    boost::system::error_code end; ///< how the connection ended (seed: eof is normal)
    /// When the first and the last payload byte arrived (download) or were written (seed):
    /// the data phase, without the peer's choke timer or start-up.
    std::chrono::steady_clock::time_point first_payload{}, last_payload{};
    /// When our handshake was fully written and theirs fully read.
    std::chrono::steady_clock::time_point handshake_written{}, handshake_read{};

    /// Payload throughput of the data phase, MB/s.
    double mb_per_s() const {
        const double s = std::chrono::duration<double>(last_payload - first_payload).count();
        return s > 0 ? static_cast<double>(bytes) / 1e6 / s : 0.0;
    }
};

/** Download the whole torrent from the peer on `s` (connected; we send the handshake
    first). Every piece is SHA-1-checked against `t`; `out` receives the file. Throws on a
    protocol violation, a hash failure or a connection error. */
boost::asio::awaitable<transfer_report> download(utp::socket& s, const torrent& t,
                                                 std::vector<std::uint8_t>& out,
                                                 download_options opt = {});

/** Seed `data` (the whole file of `t`) to the peer on `s` until it closes the connection.
    `we_start`: we send our handshake before reading theirs (as the side that dialed does;
    an acceptor may too). Throws on a protocol violation; the connection's end (eof,
    reset, ...) is returned in `transfer_report::end`. */
boost::asio::awaitable<transfer_report> seed(utp::socket& s, const torrent& t,
                                             std::span<const std::uint8_t> data, bool we_start);

} // namespace interop

#endif
