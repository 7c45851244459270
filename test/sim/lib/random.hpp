//
// random.hpp — the simulator's pseudo-random numbers.
//
// xoshiro256** seeded through splitmix64, with every mapping (to a range, to a
// probability) written out here rather than taken from <random>'s distributions, whose
// output differs between standard libraries. A seed gives the same run everywhere.
//
#ifndef UTP_SIM_RANDOM_HPP
#define UTP_SIM_RANDOM_HPP

#include <cstdint>

namespace utp::sim {

/// 128-bit unsigned arithmetic (a GCC/Clang extension; marked so -Wpedantic is quiet).
__extension__ typedef unsigned __int128 uint128;

/// One step of splitmix64: a good 64-bit mix of `x` (also used to derive seeds).
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// Combine a seed with a stream number into an independent seed.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) noexcept {
    return splitmix64(splitmix64(seed) ^ splitmix64(stream + 0x632be59bd9b4e019ull));
}

/// xoshiro256** (Blackman & Vigna): small, fast, and identical on every platform.
class rng {
public:
    using result_type = std::uint64_t;

    explicit rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

    void reseed(std::uint64_t seed) noexcept {
        std::uint64_t x = seed;
        for (auto& w : s_) {
            x += 0x9e3779b97f4a7c15ull;
            std::uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            w = z ^ (z >> 31);
        }
    }

    static constexpr result_type min() noexcept { return 0; }
    static constexpr result_type max() noexcept { return UINT64_MAX; }

    result_type operator()() noexcept { return next(); }

    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    /// Uniform in [0, n) (n > 0), by Lemire's multiply-shift (bias below 2^-64 · n).
    std::uint64_t below(std::uint64_t n) noexcept {
        return static_cast<std::uint64_t>((static_cast<uint128>(next()) * n) >> 64);
    }

    /// Uniform in [lo, hi] (inclusive).
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) noexcept {
        return hi <= lo ? lo : lo + below(hi - lo + 1);
    }

    /// Uniform in [0, 1), 53 random bits.
    double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    /// True with probability `p` (p ≤ 0: never, p ≥ 1: always).
    bool chance(double p) noexcept {
        if (p <= 0.0) return false;
        if (p >= 1.0) return true;
        return unit() < p;
    }

    /// Uniform double in [lo, hi).
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * unit(); }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }
    std::uint64_t s_[4]{};
};

} // namespace utp::sim

#endif
