/// @file
/// kiemidi::metrics: the metrics model every client keeps, its Prometheus exposition and the
/// tracing observer (metrics/model.hpp), and the `/metrics` HTTP server (metrics/server.hpp).
///
/// Like every part with a folder, `kiemidi/<part>.hpp` includes the whole folder and each
/// `kiemidi/<part>/<name>.hpp` declares into `kiemidi::<part>`.
#ifndef KIEMIDI_METRICS_HPP
#define KIEMIDI_METRICS_HPP

#include <kiemidi/metrics/model.hpp>
#include <kiemidi/metrics/server.hpp>

#endif
