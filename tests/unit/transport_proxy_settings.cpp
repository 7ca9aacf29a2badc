// Which proxy an origin goes through: proxy URLs, the environment's variables (which one wins
// for which scheme), NO_PROXY entries (names, suffixes, IP literals, CIDR ranges, ports), and
// credentials turned into Proxy-Authorization without reaching any message.
#include "transport/proxy_settings.hpp"

#include <boost/test/unit_test.hpp>

#include <map>

using namespace kiemidi;
using namespace kiemidi::detail;

namespace {

environment_lookup env_of(std::map<std::string, std::string> vars)
{
    return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

// The proxy chosen for https://host:port (tls) or http://host:port; "" when direct.
std::string chosen(const proxy_options& opts, const environment_lookup& env, bool tls, std::string_view host,
                   std::string_view port)
{
    proxy_choice c;
    std::string why;
    const auto ec = choose_proxy(opts, tls, host, port, env, c, why);
    BOOST_TEST_REQUIRE(!ec, why);
    return c.proxy ? c.proxy->display : std::string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_proxy_settings)

BOOST_AUTO_TEST_CASE(proxy_urls_parse_with_defaults_and_credentials_become_basic_authorization)
{
    proxy_endpoint p;
    std::string why;
    BOOST_TEST(!parse_proxy_url("http://proxy.corp:3128", p, why));
    BOOST_TEST(p.host == "proxy.corp");
    BOOST_TEST(p.port == "3128");
    BOOST_TEST(p.display == "http://proxy.corp:3128");
    BOOST_TEST(p.authorization.empty());

    BOOST_TEST(!parse_proxy_url("proxy.corp", p, why));  // no scheme, no port: http, 1080 (as curl)
    BOOST_TEST(p.display == "http://proxy.corp:1080");

    BOOST_TEST(!parse_proxy_url("HTTP://[::1]:8080/", p, why));
    BOOST_TEST(p.host == "::1");
    BOOST_TEST(p.display == "http://[::1]:8080");

    // "Aladdin:open sesame" is RFC 7617's example; the URL carries it percent-encoded.
    BOOST_TEST(!parse_proxy_url("http://Aladdin:open%20sesame@10.0.0.1:3128", p, why));
    BOOST_TEST(p.authorization == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    BOOST_TEST(p.credentials == "Aladdin:open sesame");
    BOOST_TEST(p.display == "http://10.0.0.1:3128");  // what messages show: no credentials
}

BOOST_AUTO_TEST_CASE(unsupported_or_malformed_proxy_urls_are_refused_without_repeating_the_password)
{
    proxy_endpoint p;
    for (const char* bad : {"https://u:hunter2@proxy:443", "socks5://u:hunter2@proxy:1080", "http://u:hunter2@proxy:3128/path",
                            "http://u:hunter2@proxy:99999", "http://u:hunter2@:3128", "http://u:hunter2@proxy:3128?x=1"})
    {
        std::string why;
        BOOST_TEST((parse_proxy_url(bad, p, why) == client_errc::invalid_url), bad);
        BOOST_TEST(!why.empty());
        BOOST_TEST(why.find("hunter2") == std::string::npos, why);
    }
}

BOOST_AUTO_TEST_CASE(no_proxy_entries_match_names_suffixes_ips_ranges_and_ports)
{
    BOOST_TEST(no_proxy_matches("*", "api.kie.ai", "443"));
    BOOST_TEST(no_proxy_matches("kie.ai", "api.kie.ai", "443"));         // a name covers its subdomains
    BOOST_TEST(no_proxy_matches("kie.ai", "KIE.AI", "443"));             // and itself, any case
    BOOST_TEST(no_proxy_matches(".kie.ai", "api.kie.ai", "443"));
    BOOST_TEST(no_proxy_matches("*.kie.ai", "api.kie.ai", "443"));
    BOOST_TEST(!no_proxy_matches("kie.ai", "notkie.ai", "443"));         // a suffix only at a dot
    BOOST_TEST(!no_proxy_matches("api.kie.ai", "kie.ai", "443"));
    BOOST_TEST(no_proxy_matches("localhost, 127.0.0.1", "127.0.0.1", "8443"));
    BOOST_TEST(!no_proxy_matches("127.0.0.1", "127.0.0.2", "8443"));
    BOOST_TEST(no_proxy_matches("10.0.0.0/8", "10.20.30.40", "443"));
    BOOST_TEST(!no_proxy_matches("10.0.0.0/8", "11.0.0.1", "443"));
    BOOST_TEST(!no_proxy_matches("10.0.0.0/8", "ten.example", "443"));  // a range holds addresses, not names
    BOOST_TEST(no_proxy_matches("fd00::/8", "fd12::1", "443"));
    BOOST_TEST(no_proxy_matches("::1", "::1", "443"));
    BOOST_TEST(no_proxy_matches("[::1]:8443", "::1", "8443"));
    BOOST_TEST(!no_proxy_matches("[::1]:8443", "::1", "443"));
    BOOST_TEST(no_proxy_matches("example.com,api.kie.ai:443", "api.kie.ai", "443"));
    BOOST_TEST(!no_proxy_matches("api.kie.ai:8443", "api.kie.ai", "443"));  // the port must agree
    BOOST_TEST(!no_proxy_matches("", "api.kie.ai", "443"));
    BOOST_TEST(!no_proxy_matches(" , ,", "api.kie.ai", "443"));
}

BOOST_AUTO_TEST_CASE(the_environment_gives_https_and_http_origins_their_own_proxy)
{
    const proxy_options from_env{};
    const auto env = env_of({{"HTTPS_PROXY", "http://secure-proxy:3128"}, {"HTTP_PROXY", "plain-proxy:8080"}});
    BOOST_TEST(chosen(from_env, env, true, "api.kie.ai", "443") == "http://secure-proxy:3128");
    BOOST_TEST(chosen(from_env, env, false, "127.0.0.1", "80") == "http://plain-proxy:8080");

    // Lower case first (as curl); an empty variable counts as unset; ALL_PROXY is the fallback.
    BOOST_TEST(chosen(from_env, env_of({{"https_proxy", "lower:1"}, {"HTTPS_PROXY", "upper:2"}}), true, "h", "443") ==
               "http://lower:1");
    BOOST_TEST(chosen(from_env, env_of({{"https_proxy", ""}, {"HTTPS_PROXY", "upper:2"}}), true, "h", "443") ==
               "http://upper:2");
    BOOST_TEST(chosen(from_env, env_of({{"ALL_PROXY", "every:3"}}), true, "h", "443") == "http://every:3");
    BOOST_TEST(chosen(from_env, env_of({{"HTTP_PROXY", "plain:4"}}), true, "h", "443").empty());  // not for https
    BOOST_TEST(chosen(from_env, env_of({}), true, "h", "443").empty());
}

BOOST_AUTO_TEST_CASE(no_proxy_and_explicit_settings_override_the_environment_as_documented)
{
    const auto env = env_of({{"HTTPS_PROXY", "http://env-proxy:3128"}, {"NO_PROXY", "internal.corp,127.0.0.1"}});
    BOOST_TEST(chosen({}, env, true, "api.internal.corp", "443").empty());
    BOOST_TEST(chosen({}, env, true, "127.0.0.1", "8443").empty());
    BOOST_TEST(chosen({}, env, true, "api.kie.ai", "443") == "http://env-proxy:3128");

    // An explicit URL wins over HTTPS_PROXY and still honours NO_PROXY (as curl's --proxy).
    BOOST_TEST(chosen({.url = "http://mine:8888"}, env, true, "api.kie.ai", "443") == "http://mine:8888");
    BOOST_TEST(chosen({.url = "http://mine:8888"}, env, true, "127.0.0.1", "8443").empty());
    // An explicit no_proxy replaces NO_PROXY.
    BOOST_TEST(chosen({.url = "http://mine:8888", .no_proxy = "kie.ai"}, env, true, "127.0.0.1", "8443") ==
               "http://mine:8888");
    BOOST_TEST(chosen({.url = "http://mine:8888", .no_proxy = "kie.ai"}, env, true, "api.kie.ai", "443").empty());
    // Without the environment only the fields count: no URL, no proxy.
    BOOST_TEST(chosen({.use_environment = false}, env, true, "api.kie.ai", "443").empty());
    BOOST_TEST(chosen({.use_environment = false, .url = "http://mine:8888"}, env, true, "127.0.0.1", "8443") ==
               "http://mine:8888");
}

BOOST_AUTO_TEST_CASE(a_malformed_proxy_variable_is_an_error_naming_it_not_a_silent_direct_connection)
{
    proxy_choice c;
    std::string why;
    const auto ec = choose_proxy({}, true, "api.kie.ai", "443", env_of({{"HTTPS_PROXY", "socks5://u:hunter2@p:1080"}}), c,
                                 why);
    BOOST_TEST((ec == client_errc::invalid_url));
    BOOST_TEST(why.find("HTTPS_PROXY") != std::string::npos, why);
    BOOST_TEST(why.find("hunter2") == std::string::npos, why);
    // ... unless NO_PROXY exempts the origin: then the proxy is never used, so never parsed.
    BOOST_TEST(!choose_proxy({}, true, "api.kie.ai", "443",
                             env_of({{"HTTPS_PROXY", "socks5://p:1080"}, {"NO_PROXY", "*"}}), c, why));
    BOOST_TEST(!c.proxy);
}

BOOST_AUTO_TEST_SUITE_END()
