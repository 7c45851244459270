//
// example/common/self_signed.hpp — a throw-away TLS identity made at run time: an EC P-256
// key and a self-signed X.509 certificate, as PEM. For examples and tests only: nothing
// trusts it unless told to, and no private key is ever committed to the repository.
//
// The examples and the asio tests both include it (the tests through an include path).
//
#ifndef UTP_EXAMPLE_SELF_SIGNED_HPP
#define UTP_EXAMPLE_SELF_SIGNED_HPP

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace utp_example {

/// A private key and the certificate for it, both PEM.
struct tls_identity {
    std::string certificate_pem;
    std::string private_key_pem;
};

namespace detail {

struct openssl_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(X509* p) const noexcept { X509_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free(p); }
    void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
};

inline void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("self_signed: ") + what + " failed");
}

inline std::string to_string(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

inline void add_extension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    std::unique_ptr<X509_EXTENSION, openssl_free> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

} // namespace detail

/** Make a key and a self-signed certificate for `common_name`, valid for a day.

    The certificate names `common_name` and every entry of `dns_names` as DNS subject
    alternative names, plus 127.0.0.1 and ::1, so that host-name verification passes for
    them. It is its own CA (basicConstraints CA:TRUE): a client that adds it as a
    certificate authority verifies it.
*/
inline tls_identity make_self_signed(const std::string& common_name = "localhost",
                                     const std::vector<std::string>& dns_names = {}) {
    using detail::check;
    std::unique_ptr<EVP_PKEY, detail::openssl_free> key(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    check(key != nullptr, "EVP_PKEY_Q_keygen");

    std::unique_ptr<X509, detail::openssl_free> cert(X509_new());
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), 2) == 1, "X509_set_version"); // v3
    check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1, "serial");
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) != nullptr, "notAfter");
    check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");

    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("utp test only"), -1,
                                     -1, 0) == 1,
          "O");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                     -1, -1, 0) == 1,
          "CN");
    check(X509_set_issuer_name(cert.get(), name) == 1, "X509_set_issuer_name");

    std::string san = "DNS:" + common_name;
    for (const auto& dns : dns_names)
        san += ",DNS:" + dns;
    san += ",IP:127.0.0.1,IP:::1";
    detail::add_extension(cert.get(), NID_subject_alt_name, san);
    detail::add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    detail::add_extension(cert.get(), NID_subject_key_identifier, "hash");
    check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

    tls_identity out;
    std::unique_ptr<BIO, detail::openssl_free> cert_bio(BIO_new(BIO_s_mem()));
    check(cert_bio && PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1, "PEM_write_bio_X509");
    out.certificate_pem = detail::to_string(cert_bio.get());
    std::unique_ptr<BIO, detail::openssl_free> key_bio(BIO_new(BIO_s_mem()));
    check(key_bio && PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0,
                                              nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
    out.private_key_pem = detail::to_string(key_bio.get());
    return out;
}

} // namespace utp_example

#endif
