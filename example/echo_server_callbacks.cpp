//
// echo_server_callbacks.cpp — a µTP echo server written with plain completion handlers.
//
// Accepts connections for ever and sends every byte back. When a client shuts down its
// sending side, the server finishes echoing and shuts down its own. Ctrl-C stops it.
//
//   ./echo_server_callbacks 127.0.0.1 9000
//   ./echo_client_callbacks 127.0.0.1 9000 "hello, µTP"    (in another terminal)
//
#include <utp.hpp>

#include <boost/asio.hpp>

#include <array>
#include <cstdlib>
#include <iostream>
#include <memory>

namespace asio = boost::asio;
using boost::system::error_code;

/// One connection: read some, write it back, repeat until the client's EOF.
class session : public std::enable_shared_from_this<session> {
public:
    explicit session(utp::socket s) : socket_(std::move(s)) {}

    void start() { read(); }

private:
    void read() {
        socket_.async_read_some(
            asio::buffer(data_),
            [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
    }

    void on_read(error_code ec, std::size_t n) {
        if (ec == asio::error::eof) {
            socket_.shutdown(asio::socket_base::shutdown_send); // echo the EOF too
            return; // the last handler goes: the socket closes (gracefully)
        }
        if (ec) {
            std::cerr << "read: " << ec.message() << "\n";
            return;
        }
        asio::async_write(socket_, asio::buffer(data_, n),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                              if (ec)
                                  std::cerr << "write: " << ec.message() << "\n";
                              else
                                  self->read();
                          });
    }

    utp::socket socket_;
    std::array<char, 64 * 1024> data_;
};

/// Accept one connection, start its session, and accept the next.
void accept(utp::acceptor& acceptor) {
    acceptor.async_accept([&acceptor](error_code ec, utp::socket s) {
        if (ec) {
            if (ec != asio::error::operation_aborted)
                std::cerr << "accept: " << ec.message() << "\n";
            return;
        }
        std::cout << "connection from " << s.remote_endpoint() << std::endl;
        std::make_shared<session>(std::move(s))->start();
        accept(acceptor);
    });
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: echo_server_callbacks address port\n";
        return 2;
    }
    try {
        asio::io_context ioc;
        utp::acceptor acceptor(ioc, {asio::ip::make_address(argv[1]),
                                     static_cast<unsigned short>(std::atoi(argv[2]))});
        std::cout << "echo server on " << acceptor.local_endpoint() << std::endl;
        accept(acceptor);

        // Ctrl-C: stop accepting; run() returns once open sessions have finished.
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](error_code, int) { acceptor.close(); });

        ioc.run();
    } catch (const std::exception& e) {
        std::cerr << "echo_server_callbacks: " << e.what() << "\n";
        return 1;
    }
}
