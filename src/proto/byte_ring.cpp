#include <utp/proto/detail/byte_ring.hpp>

#include <algorithm>
#include <cstring>

namespace utp::proto::detail {

void byte_ring::reserve(std::size_t need) {
    if (need <= buf_.size()) return;
    std::size_t cap = std::max<std::size_t>(buf_.size(), 4096);
    while (cap < need)
        cap *= 2;
    std::vector<std::uint8_t> next(cap);
    copy_out(0, std::span(next.data(), size_));
    buf_.swap(next);
    head_ = 0;
}

std::size_t byte_ring::push(std::span<const std::uint8_t> data) {
    const std::size_t n = std::min(data.size(), free());
    if (n == 0) return 0;
    reserve(size_ + n);
    const std::size_t cap = buf_.size();
    std::size_t tail = (head_ + size_) % cap;
    const std::size_t first = std::min(n, cap - tail);
    std::memcpy(buf_.data() + tail, data.data(), first);
    if (n > first) std::memcpy(buf_.data(), data.data() + first, n - first);
    size_ += n;
    return n;
}

void byte_ring::copy_out(std::size_t offset, std::span<std::uint8_t> out) const noexcept {
    if (out.empty()) return;
    const std::size_t cap = buf_.size();
    const std::size_t start = (head_ + offset) % cap;
    const std::size_t first = std::min(out.size(), cap - start);
    std::memcpy(out.data(), buf_.data() + start, first);
    if (out.size() > first) std::memcpy(out.data() + first, buf_.data(), out.size() - first);
}

void byte_ring::pop(std::size_t n) noexcept {
    n = std::min(n, size_);
    size_ -= n;
    head_ = size_ == 0 ? 0 : (head_ + n) % buf_.size();
}

std::size_t byte_ring::read(std::span<std::uint8_t> out) noexcept {
    const std::size_t n = std::min(out.size(), size_);
    copy_out(0, out.first(n));
    pop(n);
    return n;
}

} // namespace utp::proto::detail
