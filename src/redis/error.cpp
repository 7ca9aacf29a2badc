// The Redis error category (one definition, compiled once).
#include <kiemidi/redis/error.hpp>

#include <string>

namespace kiemidi::redis {

namespace {
class redis_category final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "kiemidi.redis"; }

    std::string message(int ev) const override
    {
        switch (static_cast<redis_errc>(ev))
        {
        case redis_errc::not_connected: return "not connected to Redis";
        case redis_errc::connect_failed: return "could not connect to Redis";
        case redis_errc::connection_lost: return "connection to Redis lost while the command was pending";
        case redis_errc::timeout: return "Redis did not answer in time";
        case redis_errc::server_error: return "Redis answered with an error";
        case redis_errc::closed: return "the Redis connection was closed";
        case redis_errc::subscribed: return "the Redis connection is in subscriber mode";
        case redis_errc::invalid_argument: return "invalid Redis command";
        }
        return "unknown Redis error";
    }
};
}  // namespace

const boost::system::error_category& get_redis_category() noexcept
{
    static const redis_category cat;
    return cat;
}

}  // namespace kiemidi::redis
