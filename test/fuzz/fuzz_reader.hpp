//
// fuzz_reader.hpp — the fuzz targets' view of their input: bytes taken off the front,
// zeros once it runs out, so every script is a valid one.
//
#ifndef UTP_TEST_FUZZ_READER_HPP
#define UTP_TEST_FUZZ_READER_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace utp_fuzz {

struct reader {
    const std::uint8_t* p;
    std::size_t n;
    bool empty() const { return n == 0; }
    std::uint8_t u8() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
    std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
    std::span<const std::uint8_t> bytes(std::size_t k) {
        k = std::min(k, n);
        std::span<const std::uint8_t> s(p, k);
        p += k;
        n -= k;
        return s;
    }
};

} // namespace utp_fuzz

#endif
