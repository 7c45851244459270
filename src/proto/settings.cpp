#include <utp/proto/settings.hpp>

namespace utp::proto {

std::optional<setting_violation> check(const settings& s) noexcept {
    using v = setting_violation;
    constexpr std::size_t max_buffer = std::size_t{1} << 31; // wnd_size is a u32
    if (s.send_buffer_size < 1 || s.send_buffer_size > max_buffer)
        return v{"send_buffer_size", "1 byte to 2 GiB"};
    if (s.recv_buffer_size < 1 || s.recv_buffer_size > max_buffer)
        return v{"recv_buffer_size", "1 byte to 2 GiB"};
    // 150: a header, a selective ACK and a useful payload; 65000: below the largest UDP
    // payload of IPv4 (65 507) and IPv6 (65 527).
    if (s.packet_size < 150 || s.packet_size > 65000) return v{"packet_size", "150 to 65000 bytes"};
    if (s.packet_size_v6 < 150 || s.packet_size_v6 > 65000)
        return v{"packet_size_v6", "150 to 65000 bytes"};
    if (s.target_delay < 1ms || s.target_delay > 10s) return v{"target_delay", "1 ms to 10 s"};
    if (s.ack_delay < 0us || s.ack_delay > 1s) return v{"ack_delay", "0 to 1 s"};
    if (s.ack_every < 1) return v{"ack_every", "at least 1 packet"};
    if (s.min_rto <= 0us) return v{"min_rto", "more than 0"};
    if (s.max_rto < s.min_rto) return v{"max_rto", "at least min_rto"};
    if (s.initial_rto <= 0us) return v{"initial_rto", "more than 0"};
    if (s.max_data_timeouts < 1) return v{"max_data_timeouts", "at least 1"};
    if (s.max_syn_retries > 30) return v{"max_syn_retries", "at most 30"};
    if (s.keepalive_interval < 0us) return v{"keepalive_interval", "0 (off) or more"};
    if (s.idle_timeout < 0us) return v{"idle_timeout", "0 (off) or more"};
    if (s.progress_timeout < 0us) return v{"progress_timeout", "0 (off) or more"};
    if (s.linger_timeout <= 0us) return v{"linger_timeout", "more than 0"};
    if (s.syn_received_timeout <= 0us) return v{"syn_received_timeout", "more than 0"};
    if (s.congestion != congestion_algorithm::ledbat &&
        s.congestion != congestion_algorithm::ledbat_plus_plus &&
        s.congestion != congestion_algorithm::newreno)
        return v{"congestion", "ledbat, ledbat_plus_plus or newreno"};
    if (s.trace.interval < 0us) return v{"trace.interval", "0 or more"};
    if (s.max_cwnd_increase_per_rtt < 1) return v{"max_cwnd_increase_per_rtt", "at least 1 byte"};
    if (s.base_delay_history_minutes < 1 || s.base_delay_history_minutes > 60)
        return v{"base_delay_history_minutes", "1 to 60"};
    return std::nullopt;
}

std::optional<setting_violation> check(const endpoint_settings& s) noexcept {
    if (auto bad = check(s.connection)) return bad;
    if (s.accept_backlog < 1) return setting_violation{"accept_backlog", "at least 1"};
    if (s.max_half_open < 1) return setting_violation{"max_half_open", "at least 1"};
    return std::nullopt;
}

} // namespace utp::proto
