//
// test/interop/torrent.hpp — the interop tests' payload: a deterministic pseudo-random file
// and a BitTorrent v1 single-file .torrent for it (BEP-3), made by the test itself.
//
#ifndef UTP_TEST_INTEROP_TORRENT_HPP
#define UTP_TEST_INTEROP_TORRENT_HPP

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace interop {

using sha1_digest = std::array<std::uint8_t, 20>;

sha1_digest sha1(std::span<const std::uint8_t> data);
std::string hex(std::span<const std::uint8_t> bytes);

/// `size` bytes that depend only on (`seed`, offset).
std::vector<std::uint8_t> make_content(std::uint64_t size, std::uint64_t seed);

/// A single-file v1 torrent: what our peer needs, and the bencoded metainfo for theirs.
struct torrent {
    std::string name;
    std::uint64_t length = 0;
    std::uint32_t piece_length = 0;
    std::vector<sha1_digest> piece_hashes;
    sha1_digest info_hash{}; ///< SHA-1 of the bencoded info dictionary
    std::string metainfo;    ///< the whole .torrent file

    std::size_t piece_count() const noexcept { return piece_hashes.size(); }
    std::uint32_t piece_size(std::size_t piece) const noexcept;
    /// Whether `data` (one whole piece) hashes to piece `piece`'s SHA-1.
    bool piece_ok(std::size_t piece, std::span<const std::uint8_t> data) const;
};

/// The torrent of `content`, named `name`, with pieces of `piece_length` bytes.
torrent make_torrent(std::string name, std::span<const std::uint8_t> content,
                     std::uint32_t piece_length);

void write_file(const std::filesystem::path& path, std::span<const std::uint8_t> data);
std::vector<std::uint8_t> read_file(const std::filesystem::path& path);

} // namespace interop

#endif
