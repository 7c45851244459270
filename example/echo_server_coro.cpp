//
// echo_server_coro.cpp — a µTP echo server written with C++20 coroutines.
//
// Accepts connections for ever and sends every byte back. When a client shuts down its
// sending side, the server finishes echoing and shuts down its own. Ctrl-C stops it.
//
//   ./echo_server_coro 127.0.0.1 9000
//   ./echo_client_coro 127.0.0.1 9000 "hello, µTP"    (in another terminal)
//
#include <utp.hpp>

#include <boost/asio.hpp>

#include <array>
#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

awaitable<void> session(utp::socket socket) {
    std::array<char, 64 * 1024> data;
    for (;;) {
        auto [ec, n] =
            co_await socket.async_read_some(asio::buffer(data), asio::as_tuple(use_awaitable));
        if (ec == asio::error::eof) break; // the client is done sending
        if (ec) throw boost::system::system_error(ec, "read");
        co_await asio::async_write(socket, asio::buffer(data, n), use_awaitable);
    }
    socket.shutdown(asio::socket_base::shutdown_send); // echo the EOF too
} // the socket closes (gracefully) here

awaitable<void> listen(utp::acceptor& acceptor) {
    for (;;) {
        utp::socket socket = co_await acceptor.async_accept(use_awaitable);
        std::cout << "connection from " << socket.remote_endpoint() << std::endl;
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket)),
                       [](std::exception_ptr e) {
                           try {
                               if (e) std::rethrow_exception(e);
                           } catch (const std::exception& x) {
                               std::cerr << "session: " << x.what() << "\n";
                           }
                       });
    }
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: echo_server_coro address port\n";
        return 2;
    }
    try {
        asio::io_context ioc;
        utp::acceptor acceptor(ioc, {asio::ip::make_address(argv[1]),
                                     static_cast<unsigned short>(std::atoi(argv[2]))});
        std::cout << "echo server on " << acceptor.local_endpoint() << std::endl;
        asio::co_spawn(ioc, listen(acceptor), asio::detached); // ends when the acceptor closes

        // Ctrl-C: stop accepting; run() returns once open sessions have finished.
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](boost::system::error_code, int) { acceptor.close(); });

        ioc.run();
    } catch (const std::exception& e) {
        std::cerr << "echo_server_coro: " << e.what() << "\n";
        return 1;
    }
}
