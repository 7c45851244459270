//
// test/interop/child_process.hpp — a peer program run by a test: its stdin and stdout are
// pipes (stdout read line by line through the io_context), it runs in its own process
// group, and the whole group is killed when the object goes away, so no test leaves a
// daemon behind.
//
#ifndef UTP_TEST_INTEROP_CHILD_PROCESS_HPP
#define UTP_TEST_INTEROP_CHILD_PROCESS_HPP

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/streambuf.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace interop {

class child_process {
public:
    /// Start `argv[0]` (a path) with `argv`; stderr is inherited (the test's log).
    child_process(const boost::asio::any_io_executor& ex, const std::vector<std::string>& argv);
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    /// Kills the process group (SIGKILL) if it still runs, and reaps it.
    ~child_process();

    /// The next line of its stdout, without the newline; std::nullopt at end of output.
    boost::asio::awaitable<std::optional<std::string>> read_line();

    /// Its last lines of output (up to 30), one per line prefixed "    | ", for failure
    /// messages.
    std::string tail_text() const;

    /// Close its stdin: the peer scripts take that as "stop now".
    void close_stdin();

    /// SIGKILL to the whole process group, at once.
    void kill();

    /// Wait up to `limit` for it to exit; its exit status, or -1 if it still runs.
    int wait_exit(std::chrono::milliseconds limit);

    pid_t pid() const noexcept { return pid_; }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    int status_ = -1;
    int stdin_fd_ = -1;
    boost::asio::posix::stream_descriptor out_;
    boost::asio::streambuf buf_;
    std::deque<std::string> tail_;
};

/** Read `child`'s output to its end: "listening PORT" sets `port`; every other line goes to
    `on_line` as its first word, a stream positioned after it (the peer scripts report as
    "word values...") and whole. */
boost::asio::awaitable<void> read_reports(
    child_process& child, std::optional<unsigned short>& port,
    std::function<void(const std::string& word, std::istream& rest, const std::string& line)>
        on_line);

} // namespace interop

#endif
