#include "child_process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace interop {

namespace asio = boost::asio;

namespace {

void check(int rc, const char* what) {
    if (rc != 0) throw boost::system::system_error(rc, boost::system::system_category(), what);
}

} // namespace

child_process::child_process(const asio::any_io_executor& ex, const std::vector<std::string>& argv)
    : out_(ex) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
        throw boost::system::system_error(errno, boost::system::system_category(), "pipe2");

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
    check(posix_spawnattr_init(&attr), "posix_spawnattr_init");
    check(posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO), "adddup2");
    check(posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO), "adddup2");
    // Its own process group: kill() reaches the daemons a peer script starts.
    check(posix_spawnattr_setpgroup(&attr, 0), "setpgroup");
    check(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP), "setflags");

    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        throw boost::system::system_error(rc, boost::system::system_category(),
                                          "posix_spawn " + argv[0]);
    }
    stdin_fd_ = in[1];
    out_.assign(out[0]);
}

child_process::~child_process() {
    close_stdin();
    if (!reaped_) {
        kill();
        wait_exit(std::chrono::seconds(10));
    }
}

asio::awaitable<std::optional<std::string>> child_process::read_line() {
    auto [ec, n] =
        co_await asio::async_read_until(out_, buf_, '\n', asio::as_tuple(asio::use_awaitable));
    if (ec) co_return std::nullopt;
    std::string line(asio::buffers_begin(buf_.data()), asio::buffers_begin(buf_.data()) + n - 1);
    buf_.consume(n);
    tail_.push_back(line);
    if (tail_.size() > 30) tail_.pop_front();
    co_return line;
}

asio::awaitable<void> read_reports(
    child_process& child, std::optional<unsigned short>& port,
    std::function<void(const std::string& word, std::istream& rest, const std::string& line)>
        on_line) {
    for (;;) {
        auto line = co_await child.read_line();
        if (!line) co_return;
        std::istringstream in(*line);
        std::string word;
        in >> word;
        if (word == "listening") {
            unsigned short p = 0;
            in >> p;
            port = p;
            continue;
        }
        on_line(word, in, *line);
    }
}

std::string child_process::tail_text() const {
    std::string s;
    for (const auto& l : tail_)
        s += "\n    | " + l;
    return s;
}

void child_process::close_stdin() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
}

void child_process::kill() {
    if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
}

int child_process::wait_exit(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!reaped_) {
        const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD)) {
            reaped_ = true;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) return -1;
        // Polling a child's exit is the one wait here; it bounds teardown, not correctness.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // The process group may still hold a grandchild (a daemon): end it too.
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

} // namespace interop
