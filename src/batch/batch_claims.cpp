// The error category of kiemidi::batch_claims (compiled once, with or without a Redis build).
#include <kiemidi/batch_claims.hpp>

#include <string>

namespace kiemidi {

const boost::system::error_category& get_claim_category() noexcept
{
    class category final : public boost::system::error_category
    {
    public:
        const char* name() const noexcept override { return "kiemidi.claims"; }
        std::string message(int ev) const override
        {
            switch (static_cast<claim_errc>(ev))
            {
            case claim_errc::claim_lost: return "the track's lease expired and another worker owns it now";
            case claim_errc::invalid_transition: return "the track's shared state does not allow this change";
            case claim_errc::unknown_track: return "no track of the shared batch has this id";
            case claim_errc::bad_reply: return "unexpected reply from the shared batch state";
            case claim_errc::state_lost: return "the shared batch's state in Redis was lost";
            }
            return "shared batch state error " + std::to_string(ev);
        }
    };
    static const category c;
    return c;
}

}  // namespace kiemidi
