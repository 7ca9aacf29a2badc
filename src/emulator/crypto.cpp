// The emulator's TLS identity: a throwaway CA and server certificate generated at start (so HTTPS
// works without files), by the generator the tests use too (src/crypto/certificates.hpp). KIE's
// webhook signature is the library's (src/crypto/crypto.hpp), the one the listener verifies.
#include "model.hpp"

#include "../crypto/certificates.hpp"

namespace kiemidi::emulator::detail {

tls_identity make_tls_identity(const std::vector<std::string>& host_names)
{
    auto pki = kiemidi::detail::make_ca_signed_pki(host_names, "kiemidi emulator");
    return tls_identity{std::move(pki.ca_cert_pem), std::move(pki.cert_pem), std::move(pki.key_pem)};
}

}  // namespace kiemidi::emulator::detail
