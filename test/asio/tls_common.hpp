//
// test/asio/tls_common.hpp — TLS set-up shared by the composition tests (TLS, Beast HTTP
// and WebSocket over µTP): one throw-away identity per process, made at run time (no key
// is committed), and the server and client contexts built from it.
//
#ifndef UTP_TEST_ASIO_TLS_COMMON_HPP
#define UTP_TEST_ASIO_TLS_COMMON_HPP

#include "self_signed.hpp" // example/common: shared with the TLS examples

#include <boost/asio/ssl.hpp>

#include <string>

namespace utp_test {

namespace ssl = boost::asio::ssl;

/// The process's test identity: an EC key and a self-signed certificate for "localhost"
/// (also "utp.test" and 127.0.0.1 / ::1), made on first use.
inline const utp_example::tls_identity& test_identity() {
    static const utp_example::tls_identity id =
        utp_example::make_self_signed("localhost", {"utp.test"});
    return id;
}

/// A TLS server context presenting the test identity.
inline ssl::context server_context() {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3);
    ctx.use_certificate_chain(boost::asio::buffer(test_identity().certificate_pem));
    ctx.use_private_key(boost::asio::buffer(test_identity().private_key_pem), ssl::context::pem);
    return ctx;
}

/// A TLS client context that verifies the peer; it trusts the test identity only if
/// `trust_test_identity` (otherwise verification fails, as against an unknown server).
inline ssl::context client_context(bool trust_test_identity = true) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_verify_mode(ssl::verify_peer);
    if (trust_test_identity)
        ctx.add_certificate_authority(boost::asio::buffer(test_identity().certificate_pem));
    return ctx;
}

/// Prepare a client stream for `host`: SNI and RFC 2818 host-name verification.
template <class Stream>
void set_client_host(ssl::stream<Stream>& s, const std::string& host) {
    if (SSL_set_tlsext_host_name(s.native_handle(), host.c_str()) != 1)
        throw boost::system::system_error(
            boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                      boost::asio::error::get_ssl_category()),
            "SSL_set_tlsext_host_name");
    s.set_verify_callback(ssl::host_name_verification(host));
}

} // namespace utp_test

#endif
