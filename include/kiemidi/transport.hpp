/// @file
/// kiemidi transport: everything needed to talk HTTP(S) to one origin.
///
/// http_client (pooled keep-alive connections, verified TLS, per-step deadlines, retries),
/// retry_policy (pure retry decisions), rate_limiter (admission window for paid submissions),
/// and the plain option and message types they use. Nothing here knows KIE's paths or JSON.
#ifndef KIEMIDI_TRANSPORT_HPP
#define KIEMIDI_TRANSPORT_HPP

#include <kiemidi/transport/http_client.hpp>
#include <kiemidi/transport/http_message.hpp>
#include <kiemidi/transport/rate_limiter.hpp>
#include <kiemidi/transport/retry_policy.hpp>
#include <kiemidi/transport/tls_options.hpp>
#include <kiemidi/transport/transport_options.hpp>

#endif
