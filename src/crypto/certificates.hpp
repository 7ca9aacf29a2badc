// Throwaway TLS identities generated at run time with OpenSSL 3's C API: a CA and a server
// certificate it signed, or a self-signed server certificate. The emulator serves HTTPS with one
// (no files needed) and the tests make theirs with the same code. Private to the library's tools.
#ifndef KIEMIDI_SRC_CRYPTO_CERTIFICATES_HPP
#define KIEMIDI_SRC_CRYPTO_CERTIFICATES_HPP

#include <kiemidi/config.hpp>

#include <string>
#include <vector>

namespace kiemidi::detail {

/// PEM texts of a generated identity.
struct generated_pki
{
    std::string ca_cert_pem;  ///< What clients trust (the certificate itself when self-signed).
    std::string cert_pem;     ///< The server certificate.
    std::string key_pem;      ///< Its private key (P-256).
};

/// A fresh CA ("<organization> CA") and a server certificate it signed for `host_names`: IP
/// addresses become IP SANs, other names DNS SANs; the common name is the first host name or
/// "localhost". Throws std::runtime_error when OpenSSL fails.
KIEMIDI_DECL generated_pki make_ca_signed_pki(const std::vector<std::string>& host_names, const std::string& organization);

/// A self-signed server certificate for `host_names` (its own CA): ca_cert_pem == cert_pem.
KIEMIDI_DECL generated_pki make_self_signed_pki(const std::vector<std::string>& host_names, const std::string& organization);

}  // namespace kiemidi::detail

#endif
