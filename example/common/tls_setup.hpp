//
// example/common/tls_setup.hpp — the TLS contexts of the examples, from the command line:
//
//   server   --cert FILE --key FILE, or else a throw-away identity made at start-up
//            (self_signed.hpp), whose certificate --write-cert FILE saves for clients;
//   client   --ca FILE (trust exactly that), --insecure (verify nothing), or else the
//            system's certificate authorities; always SNI and host-name verification.
//
#ifndef UTP_EXAMPLE_TLS_SETUP_HPP
#define UTP_EXAMPLE_TLS_SETUP_HPP

#include "args.hpp"
#include "self_signed.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace utp_example {

namespace ssl = boost::asio::ssl;

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
}

/// A server context: the identity in --cert/--key, or a throw-away one (see above).
inline ssl::context server_context(const command_line& cl) {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (!cl.cert.empty()) {
        ctx.use_certificate_chain_file(cl.cert);
        ctx.use_private_key_file(cl.key, ssl::context::pem);
        return ctx;
    }
    // Only the certificate is ever written out: the key dies with the process.
    const tls_identity id = make_self_signed("localhost");
    if (!cl.write_cert.empty()) write_file(cl.write_cert, id.certificate_pem);
    ctx.use_certificate_chain(boost::asio::buffer(id.certificate_pem));
    ctx.use_private_key(boost::asio::buffer(id.private_key_pem), ssl::context::pem);
    return ctx;
}

/// A client context: trusts --ca, nothing checked with --insecure, else the system's CAs.
inline ssl::context client_context(const command_line& cl) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (cl.insecure) {
        ctx.set_verify_mode(ssl::verify_none);
        return ctx;
    }
    ctx.set_verify_mode(ssl::verify_peer);
    if (!cl.ca.empty())
        ctx.load_verify_file(cl.ca);
    else
        ctx.set_default_verify_paths();
    return ctx;
}

/** Ask for `host` (SNI) and, unless `insecure`, check that the certificate names it
    (RFC 2818: a DNS name, or an IP address against the certificate's IP entries). */
template <class Stream>
void set_server_name(ssl::stream<Stream>& stream, const std::string& host, bool insecure) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    // RFC 6066 forbids an IP address as a server name.
    if (ec && SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1)
        throw std::runtime_error("cannot set the TLS server name " + host);
    if (!insecure) stream.set_verify_callback(ssl::host_name_verification(host));
}

} // namespace utp_example

#endif
