/// @file
/// kiemidi::redis: what a user of the Redis-backed parts (redis_callback_hub, redis_batch_claims)
/// configures and may see: the connection options and counters (redis/connection_options.hpp) and
/// the Redis errors (redis/error.hpp). Available when kiemidi is built with KIEMIDI_WITH_REDIS.
///
/// Like every part with a folder, `kiemidi/<part>.hpp` includes the whole folder and each
/// `kiemidi/<part>/<name>.hpp` declares into `kiemidi::<part>`.
#ifndef KIEMIDI_REDIS_HPP
#define KIEMIDI_REDIS_HPP

#include <kiemidi/redis/connection_options.hpp>
#include <kiemidi/redis/error.hpp>

#endif
