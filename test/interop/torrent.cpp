#include "torrent.hpp"

#include <openssl/sha.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace interop {

sha1_digest sha1(std::span<const std::uint8_t> data) {
    sha1_digest d;
    SHA1(data.data(), data.size(), d.data());
    return d;
}

std::string hex(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (auto b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::vector<std::uint8_t> make_content(std::uint64_t size, std::uint64_t seed) {
    std::vector<std::uint8_t> out(size);
    std::uint64_t x = seed;
    for (std::uint64_t i = 0; i < size; i += 8) {
        // splitmix64: incompressible, so no layer can make the transfer look cheaper.
        x += 0x9e3779b97f4a7c15ull;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (std::uint64_t b = 0; b < 8 && i + b < size; ++b)
            out[i + b] = static_cast<std::uint8_t>(z >> (8 * b));
    }
    return out;
}

std::uint32_t torrent::piece_size(std::size_t piece) const noexcept {
    const std::uint64_t begin = std::uint64_t{piece} * piece_length;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(piece_length, length - begin));
}

bool torrent::piece_ok(std::size_t piece, std::span<const std::uint8_t> data) const {
    return piece < piece_count() && data.size() == piece_size(piece) &&
           sha1(data) == piece_hashes[piece];
}

namespace {

void bencode_string(std::string& out, std::string_view s) {
    out += std::to_string(s.size());
    out += ':';
    out += s;
}

void bencode_int(std::string& out, std::uint64_t v) {
    out += 'i';
    out += std::to_string(v);
    out += 'e';
}

} // namespace

torrent make_torrent(std::string name, std::span<const std::uint8_t> content,
                     std::uint32_t piece_length) {
    torrent t;
    t.name = std::move(name);
    t.length = content.size();
    t.piece_length = piece_length;
    for (std::uint64_t off = 0; off < content.size(); off += piece_length)
        t.piece_hashes.push_back(sha1(
            content.subspan(off, std::min<std::uint64_t>(piece_length, content.size() - off))));

    // The info dictionary, keys in sorted order as bencoding requires.
    std::string info = "d";
    bencode_string(info, "length");
    bencode_int(info, t.length);
    bencode_string(info, "name");
    bencode_string(info, t.name);
    bencode_string(info, "piece length");
    bencode_int(info, piece_length);
    bencode_string(info, "pieces");
    std::string pieces;
    for (const auto& h : t.piece_hashes)
        pieces.append(h.begin(), h.end());
    bencode_string(info, pieces);
    info += 'e';
    t.info_hash = sha1({reinterpret_cast<const std::uint8_t*>(info.data()), info.size()});

    t.metainfo = "d";
    bencode_string(t.metainfo, "created by");
    bencode_string(t.metainfo, "utp interop tests");
    bencode_string(t.metainfo, "info");
    t.metainfo += info;
    t.metainfo += 'e';
    return t;
}

void write_file(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!f) throw std::runtime_error("cannot write " + path.string());
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path.string());
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

} // namespace interop
