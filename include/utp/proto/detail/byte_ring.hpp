//
// utp/proto/detail/byte_ring.hpp — a growable circular byte buffer with a size limit.
//
// Storage grows by doubling up to `limit`, so an idle connection with a 1 MiB buffer
// setting costs nothing until data flows; once grown it is reused, no per-packet heap work.
//
#ifndef UTP_PROTO_DETAIL_BYTE_RING_HPP
#define UTP_PROTO_DETAIL_BYTE_RING_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace utp::proto::detail {

class byte_ring {
public:
    explicit byte_ring(std::size_t limit = 0) : limit_(limit) {}

    std::size_t size() const noexcept { return size_; }
    std::size_t limit() const noexcept { return limit_; }
    std::size_t free() const noexcept { return size_ < limit_ ? limit_ - size_ : 0; }
    bool empty() const noexcept { return size_ == 0; }

    /// Change the limit; bytes already held are kept even above a lowered limit.
    void set_limit(std::size_t limit) noexcept { limit_ = limit; }

    /// Append as much of `data` as fits under the limit; returns the bytes taken.
    std::size_t push(std::span<const std::uint8_t> data);

    /// Copy `out.size()` bytes starting `offset` bytes after the front (must be held).
    void copy_out(std::size_t offset, std::span<std::uint8_t> out) const noexcept;

    /// Remove `n` bytes from the front.
    void pop(std::size_t n) noexcept;

    /// Copy up to `out.size()` bytes from the front and remove them; returns bytes moved.
    std::size_t read(std::span<std::uint8_t> out) noexcept;

private:
    void reserve(std::size_t need);

    std::vector<std::uint8_t> buf_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t limit_;
};

} // namespace utp::proto::detail

#endif
