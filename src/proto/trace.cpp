#include <utp/proto/trace.hpp>

#include <cstdio>

namespace utp::proto {

const char* const trace_columns =
    "# time_us event conn cwnd_B in_flight_B peer_wnd_B srtt_us min_rtt_us qdelay_us "
    "pacing_Bps acked_B retransmits slow_start";

const char* to_string(trace_event e) noexcept {
    switch (e) {
    case trace_event::sample:
        return "sample";
    case trace_event::loss:
        return "loss";
    case trace_event::timeout:
        return "timeout";
    }
    return "?";
}

std::string to_string(const trace_record& r) {
    char line[256];
    const int n = std::snprintf(
        line, sizeof line, "%lld %s %u %u %u %u %lld %lld %lld %.0f %llu %llu %d",
        static_cast<long long>(r.time.time_since_epoch().count()), to_string(r.event),
        unsigned{r.connection_id}, r.cwnd, r.bytes_in_flight, r.peer_window,
        static_cast<long long>(r.srtt.count()), static_cast<long long>(r.min_rtt.count()),
        static_cast<long long>(r.queuing_delay.count()), r.pacing_rate,
        static_cast<unsigned long long>(r.bytes_acked),
        static_cast<unsigned long long>(r.retransmits), r.slow_start ? 1 : 0);
    return std::string(line, n > 0 ? static_cast<std::size_t>(n) : 0);
}

} // namespace utp::proto
