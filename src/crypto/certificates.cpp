// Throwaway TLS identities; see certificates.hpp.
#include "certificates.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <memory>
#include <stdexcept>

namespace kiemidi::detail {
namespace {

template <class T, void (*F)(T*)>
struct deleter { void operator()(T* p) const noexcept { F(p); } };
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using name_ptr = std::unique_ptr<X509_NAME, deleter<X509_NAME, X509_NAME_free>>;

[[noreturn]] void fail(const char* what)
{
    char buf[256] = {};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    throw std::runtime_error(std::string("kiemidi: generating a TLS certificate: ") + what + ": " + buf);
}

void check(int ok, const char* what)
{
    if (ok <= 0) fail(what);
}

pkey_ptr make_key()
{
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) fail("EC key generation");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) fail("certificate extension");
    check(X509_add_ext(cert, ext, -1), "X509_add_ext");
    X509_EXTENSION_free(ext);
}

enum class role { ca, leaf, self_signed_leaf };

std::string subject_alt_names(const std::vector<std::string>& host_names)
{
    std::string san;
    for (const auto& h : host_names)
    {
        unsigned char buf[16];
        const bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
        if (!san.empty()) san += ',';
        san += (ip ? "IP:" : "DNS:") + h;
    }
    return san;
}

x509_ptr make_cert(EVP_PKEY* key, const std::string& common_name, const std::string& organization, X509* issuer,
                   EVP_PKEY* issuer_key, role r, const std::vector<std::string>& host_names)
{
    x509_ptr cert(X509_new());
    if (!cert) fail("X509_new");
    check(X509_set_version(cert.get(), 2), "X509_set_version");
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial), "RAND_bytes");
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    check(bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) ? 1 : 0, "serial");
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 30);
    check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
    name_ptr name(X509_NAME_new());
    check(X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(organization.c_str()), -1, -1, 0), "name O");
    check(X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0), "name CN");
    check(X509_set_subject_name(cert.get(), name.get()), "subject");
    X509* signer = issuer ? issuer : cert.get();
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "issuer");
    if (r == role::ca)
    {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    }
    else if (r == role::self_signed_leaf)
    {
        // Its own CA, as `openssl req -x509` makes it: clients trust it by trusting it directly.
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
        if (const auto san = subject_alt_names(host_names); !san.empty())
            add_ext(cert.get(), signer, NID_subject_alt_name, san);
    }
    else
    {
        add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
        add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
        if (const auto san = subject_alt_names(host_names); !san.empty())
            add_ext(cert.get(), signer, NID_subject_alt_name, san);
    }
    check(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()), "X509_sign");
    return cert;
}

std::string pem_of(X509* cert)
{
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

std::string pem_of(EVP_PKEY* key)
{
    bio_ptr bio(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

std::string host_or_localhost(const std::vector<std::string>& host_names)
{
    return host_names.empty() ? std::string("localhost") : host_names.front();
}

}  // namespace

generated_pki make_ca_signed_pki(const std::vector<std::string>& host_names, const std::string& organization)
{
    auto ca_key = make_key();
    auto ca = make_cert(ca_key.get(), organization + " CA", organization, nullptr, nullptr, role::ca, {});
    auto key = make_key();
    auto cert = make_cert(key.get(), host_or_localhost(host_names), organization, ca.get(), ca_key.get(), role::leaf,
                          host_names);
    return generated_pki{pem_of(ca.get()), pem_of(cert.get()), pem_of(key.get())};
}

generated_pki make_self_signed_pki(const std::vector<std::string>& host_names, const std::string& organization)
{
    auto key = make_key();
    auto cert = make_cert(key.get(), host_or_localhost(host_names), organization, nullptr, nullptr,
                          role::self_signed_leaf, host_names);
    const auto pem = pem_of(cert.get());
    return generated_pki{pem, pem, pem_of(key.get())};
}

}  // namespace kiemidi::detail
