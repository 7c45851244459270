#include <utp/proto/congestion.hpp>

namespace utp::proto {

std::unique_ptr<congestion_controller> make_congestion_controller(const settings& s,
                                                                  std::uint32_t mss) {
    switch (s.congestion) {
    case congestion_algorithm::ledbat_plus_plus:
        return std::make_unique<ledbat_plus_plus>(s, mss);
    case congestion_algorithm::newreno:
        return std::make_unique<newreno>(mss);
    case congestion_algorithm::ledbat:
        break;
    }
    return std::make_unique<ledbat>(s, mss);
}

} // namespace utp::proto
