#include "pipeline_steps.hpp"

namespace kiemidi::detail {

std::string stage_timeout_message(std::string_view stage, std::chrono::milliseconds timeout, std::string_view unknown_flag)
{
    std::string why = std::string(stage) + " wait exceeded " + std::to_string(timeout.count()) + " ms";
    if (!unknown_flag.empty()) why += " (KIE's " + std::string(unknown_flag) + ", which kiemidi does not know)";
    return why;
}

const api::stem* find_chosen_stem(const std::vector<api::stem>& stems, const stem_choice& want) noexcept
{
    if (!want.audio_id.empty())
    {
        for (const auto& s : stems)
            if (s.id == want.audio_id) return &s;
        return nullptr;
    }
    if (want.name.empty()) return nullptr;
    return api::find_stem(stems, want.name);
}

error_code choose_stem(const std::vector<api::stem>& stems, const stem_choice& want,
                       const std::string& separation_task_id, diagnostics& diag, chosen_stem& out)
{
    const bool by_id = !want.audio_id.empty();
    const api::stem* chosen = find_chosen_stem(stems, want);
    if (chosen)
    {
        out.audio_id = chosen->id;
        out.name = chosen->stem_type_group_name.empty() ? chosen->id : chosen->stem_type_group_name;
        return {};
    }
    if (by_id && stems.empty())
    {
        out.audio_id = want.audio_id;
        out.name = want.audio_id;
        return {};
    }
    std::string has;
    if (by_id)
        for (const auto& s : stems) has += (has.empty() ? "" : ", ") + s.id + " (" + s.stem_type_group_name + ")";
    else
        has = api::stem_names(stems);
    diag.set_client_message("separation " + separation_task_id + " has no stem " +
                            (by_id ? "with audio id \"" + want.audio_id : "named \"" + want.name) + "\"; it has: " + has);
    return client_errc::unknown_stem;
}

api::separation_request separation_request_for(std::string music_task_id, std::string audio_id,
                                               api::separation_type type, std::string callback_url)
{
    return api::separation_request{.task_id = std::move(music_task_id),
                                   .audio_id = std::move(audio_id),
                                   .type = type,
                                   .callback_url = std::move(callback_url)};
}

api::midi_request midi_request_for(std::string separation_task_id, std::optional<std::string> stem_id,
                                   std::string callback_url)
{
    return api::midi_request{.task_id = std::move(separation_task_id),
                             .callback_url = std::move(callback_url),
                             .audio_id = std::move(stem_id)};
}

}  // namespace kiemidi::detail
