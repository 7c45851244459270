//
// test/support/trace_files.hpp — per-flow trace files for the congestion-control
// scenarios (the simulator's fairness suite, the real bottleneck), written only when the
// environment names a folder: UTP_TRACE_DIR=<dir>. tools/plot_trace.py plots them.
//
#ifndef UTP_TEST_SUPPORT_TRACE_FILES_HPP
#define UTP_TEST_SUPPORT_TRACE_FILES_HPP

#include <utp/proto/trace.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace utp_test {

/// The files of one run, closed when it goes: make it before the connections that write
/// to it, so that it outlives them.
class trace_files {
public:
    trace_files() = default;
    trace_files(const trace_files&) = delete;
    trace_files& operator=(const trace_files&) = delete;
    ~trace_files() {
        for (std::FILE* f : files_)
            std::fclose(f);
    }

    /// Trace options that write flow `i` (from 0) of run `name` to
    /// <UTP_TRACE_DIR>/<name>-flow<i+1>.trace, one record per `interval`; none (tracing
    /// off) without UTP_TRACE_DIR or a name.
    utp::proto::trace_options open(const std::string& name, std::size_t i,
                                   utp::proto::duration interval = std::chrono::milliseconds(20)) {
        const char* dir = std::getenv("UTP_TRACE_DIR");
        if (!dir || name.empty()) return {};
        const std::string path =
            std::string(dir) + "/" + name + "-flow" + std::to_string(i + 1) + ".trace";
        std::FILE* f = std::fopen(path.c_str(), "w");
        if (!f) return {};
        files_.push_back(f);
        std::fprintf(f, "%s\n", utp::proto::trace_columns);
        return utp::proto::trace_options{.sink =
                                             [f](const utp::proto::trace_record& r) {
                                                 std::fprintf(f, "%s\n",
                                                              utp::proto::to_string(r).c_str());
                                             },
                                         .interval = interval};
    }

private:
    std::vector<std::FILE*> files_;
};

} // namespace utp_test

#endif
