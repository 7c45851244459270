//
// echo_client_coro.cpp — a µTP echo client written with C++20 coroutines.
//
// Connects, sends a message, shuts down its sending side, reads the echo until the
// server's EOF and prints it. Gives up after 10 seconds.
//
//   ./echo_server_coro 127.0.0.1 9000 &
//   ./echo_client_coro 127.0.0.1 9000 "hello, µTP"
//
#include <utp.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::use_awaitable;

/// Returns the exit status; never throws (so that it can race the timer below, as
/// `a || b` waits for the first to *succeed*).
awaitable<int> echo(std::string host, std::string port, std::string message) {
    try {
        auto ex = co_await asio::this_coro::executor;
        asio::ip::udp::resolver resolver(ex);
        auto server =
            (co_await resolver.async_resolve(host, port, use_awaitable)).begin()->endpoint();

        utp::socket socket(ex);
        co_await socket.async_connect(server, use_awaitable);
        co_await asio::async_write(socket, asio::buffer(message), use_awaitable);
        socket.shutdown(asio::socket_base::shutdown_send); // the server reads EOF

        std::string reply;
        auto [ec, n] = co_await asio::async_read(socket, asio::dynamic_buffer(reply),
                                                 asio::as_tuple(use_awaitable));
        if (ec != asio::error::eof) throw boost::system::system_error(ec, "read");
        std::cout << reply << std::endl;
        co_return reply == message ? 0 : 1;
    } catch (const std::exception& e) { // the socket closes (gracefully) on the way out
        std::cerr << "echo_client_coro: " << e.what() << "\n";
        co_return 1;
    }
}

awaitable<void> timeout(std::chrono::seconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(use_awaitable);
}

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::cerr << "usage: echo_client_coro host port [message]\n";
        return 2;
    }
    asio::io_context ioc;
    int status = 1;
    // Race the echo against a timer: whichever finishes first cancels the other.
    asio::co_spawn(ioc,
                   echo(argv[1], argv[2], argc == 4 ? argv[3] : "hello, µTP") ||
                       timeout(std::chrono::seconds(10)),
                   [&](std::exception_ptr, std::variant<int, std::monostate> r) {
                       if (r.index() == 1)
                           std::cerr << "echo_client_coro: timed out\n";
                       else
                           status = std::get<0>(r);
                   });
    ioc.run();
    return status;
}
