// kiemidi transport: TLS settings of an https:// base URL.
//
// By default the server certificate is verified against the system's trust store, the host
// name is checked against the certificate and SNI is sent. ca_file / ca_pem replace the system
// store (private CAs, tests). Verification can only be turned off with a deliberately loud flag.
#ifndef KIEMIDI_TRANSPORT_TLS_OPTIONS_HPP
#define KIEMIDI_TRANSPORT_TLS_OPTIONS_HPP

#include <string>

namespace kiemidi {

/// How the transport verifies the server of an https:// base URL.
struct tls_options
{
    /// PEM file of trusted CA certificates; when set (or ca_pem is), the system store is not used.
    std::string ca_file;
    /// PEM text of trusted CA certificates; when set (or ca_file is), the system store is not used.
    std::string ca_pem;
    /// Disables certificate and host-name verification. Anyone on the path can then read the API key.
    bool insecure_skip_verify_do_not_use_in_production = false;
};

}  // namespace kiemidi

#endif
