// TLS for an http_client: the client context from tls_options, and the per-connection settings
// that make a handshake verify the origin's name (SNI and the certificate's host or IP). With a
// proxy, the handshake runs inside the CONNECT tunnel and still verifies the origin, never the proxy.
#ifndef KIEMIDI_SRC_TRANSPORT_TLS_CLIENT_HPP
#define KIEMIDI_SRC_TRANSPORT_TLS_CLIENT_HPP

#include "origin.hpp"

#include <kiemidi/tls_options.hpp>

#include <boost/asio/ssl/context.hpp>

#include <memory>

typedef struct ssl_st SSL;

namespace kiemidi::detail {

/// The application's context when tls_options carries one (used as it set it up); otherwise a
/// TLS 1.2+ client context that verifies peers against the system's, the file's or the PEM's
/// authorities. Throws when `ca_file` cannot be read (a configuration error, found at start-up).
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const tls_options& t);

/// Before the handshake on `ssl`: SNI for a host name, and (unless verification is off) the name
/// or IP address the origin's certificate must carry, without partial wildcards. False when
/// OpenSSL refuses the setting.
bool expect_origin_certificate(SSL* ssl, const origin& o, bool verify);

}  // namespace kiemidi::detail

#endif
