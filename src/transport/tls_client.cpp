// TLS for an http_client (see tls_client.hpp).
#include "tls_client.hpp"

#include <boost/asio/buffer.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace kiemidi::detail {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_client_tls_context(const tls_options& t)
{
    if (t.context) return t.context;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (t.insecure_skip_verify_do_not_use_in_production)
    {
        ctx->set_verify_mode(ssl::verify_none);
        return ctx;
    }
    ctx->set_verify_mode(ssl::verify_peer);
    if (t.ca_file.empty() && t.ca_pem.empty()) ctx->set_default_verify_paths();
    if (!t.ca_file.empty()) ctx->load_verify_file(t.ca_file);  // throws if unreadable
    if (!t.ca_pem.empty()) ctx->add_certificate_authority(boost::asio::buffer(t.ca_pem));
    return ctx;
}

bool expect_origin_certificate(SSL* ssl_handle, const origin& o, bool verify)
{
    if (verify)
    {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        const int ok = o.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, o.host.c_str())
                                    : X509_VERIFY_PARAM_set1_host(param, o.host.c_str(), 0);
        if (ok != 1) return false;
    }
    if (!o.host_is_ip) SSL_set_tlsext_host_name(ssl_handle, o.host.c_str());
    return true;
}

}  // namespace kiemidi::detail
