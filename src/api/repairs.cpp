// Counting and describing what the parsers repaired in a result.
#include <kiemidi/api/repairs.hpp>

#include "readers.hpp"

#include <algorithm>
#include <cmath>

namespace kiemidi::api {
namespace {

std::string plural(std::size_t n, std::string_view one, std::string_view many)
{
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

void add_reason(result_repairs& r, std::string_view what, std::size_t count, const std::string* first_at,
                const detail::json_path* at)
{
    auto it = std::find_if(r.reasons.begin(), r.reasons.end(), [&](const repair_reason& x) { return x.what == what; });
    if (it != r.reasons.end())
    {
        it->count += count;
        return;
    }
    if (r.reasons.size() >= result_repairs::max_reasons) return;
    // The path is rendered only for a reason's first occurrence: repairs are rare, notes are many.
    r.reasons.push_back(repair_reason{std::string(what), count, first_at ? *first_at : at ? at->to_string() : std::string()});
}

}  // namespace

void merge(result_repairs& into, const result_repairs& other)
{
    into.notes_repaired += other.notes_repaired;
    into.notes_dropped += other.notes_dropped;
    into.items_dropped += other.items_dropped;
    into.fields_ignored += other.fields_ignored;
    for (const auto& reason : other.reasons) add_reason(into, reason.what, reason.count, &reason.first_at, nullptr);
}

std::string summary(const result_repairs& r)
{
    if (r.empty()) return {};
    std::string out;
    auto part = [&out](const std::string& text) {
        if (!out.empty()) out += ", ";
        out += text;
    };
    if (r.notes_repaired) part(plural(r.notes_repaired, "note", "notes") + " repaired");
    if (r.notes_dropped)
        part(r.notes_repaired ? std::to_string(r.notes_dropped) + " dropped" : plural(r.notes_dropped, "note", "notes") + " dropped");
    if (r.items_dropped) part(plural(r.items_dropped, "item", "items") + " dropped");
    if (r.fields_ignored) part(plural(r.fields_ignored, "field", "fields") + " ignored");
    if (!r.reasons.empty())
    {
        out += " (";
        for (std::size_t i = 0; i < r.reasons.size(); ++i)
        {
            if (i) out += ", ";
            out += r.reasons[i].what + " x" + std::to_string(r.reasons[i].count);
        }
        out += ')';
    }
    return out;
}

std::string result_warning(const result_repairs& r, std::size_t notes)
{
    std::string out = summary(r);
    if (notes == 0)
    {
        if (!out.empty()) out += "; ";
        out += "KIE detected no notes in this track (valid after split_stem)";
    }
    return out;
}

namespace detail {

void record_repair(result_repairs& r, repair_kind kind, std::string_view what, const json_path& at)
{
    switch (kind)
    {
    case repair_kind::note_repaired: ++r.notes_repaired; break;
    case repair_kind::note_dropped: ++r.notes_dropped; break;
    case repair_kind::item_dropped: ++r.items_dropped; break;
    case repair_kind::field_ignored: ++r.fields_ignored; break;
    case repair_kind::another_reason: break;
    }
    add_reason(r, what, 1, nullptr, &at);
}

std::optional<std::string> lenient_text(const json_reader& r)
{
    json_status scratch;
    return json_reader(r.value(), r.path(), scratch).opt_text();
}

std::optional<std::string> lenient_string(const json_reader& r)
{
    json_status scratch;
    return json_reader(r.value(), r.path(), scratch).opt_string();
}

std::optional<std::int64_t> lenient_int64(const json_reader& r)
{
    json_status scratch;
    return json_reader(r.value(), r.path(), scratch).opt_int64();
}

std::optional<double> lenient_double(const json_reader& r)
{
    json_status scratch;
    auto d = json_reader(r.value(), r.path(), scratch).opt_double();
    if (d && !std::isfinite(*d)) return std::nullopt;
    return d;
}

std::optional<std::string> lenient_id(const json_reader& r)
{
    const auto* v = r.value();
    if (!v || !(v->is_string() || v->is_int64() || v->is_uint64())) return std::nullopt;
    auto text = lenient_text(r);
    if (!text || text->empty()) return std::nullopt;
    return text;
}

std::optional<std::string> list_item_id(const json_reader& item, result_repairs& rep, std::string_view what)
{
    if (!item.is_object())
    {
        record_repair(rep, repair_kind::item_dropped, std::string(what) + " entry that is not an object", item.path());
        return std::nullopt;
    }
    json_reader id = item["id"];
    auto text = lenient_id(id);
    if (!text) record_repair(rep, repair_kind::item_dropped, std::string(what) + " without id", item.path());
    return text;
}

namespace {

template <class T>
std::optional<T> counted(const json_reader& r, std::optional<T> v, result_repairs& rep, std::string_view name)
{
    if (!v && !r.missing_or_null()) record_repair(rep, repair_kind::field_ignored, "unusable " + std::string(name), r.path());
    return v;
}

}  // namespace

std::optional<std::string> optional_text(const json_reader& r, result_repairs& rep, std::string_view name)
{
    return counted(r, lenient_text(r), rep, name);
}

std::optional<std::string> optional_string(const json_reader& r, result_repairs& rep, std::string_view name)
{
    return counted(r, lenient_string(r), rep, name);
}

std::optional<std::int64_t> optional_int64(const json_reader& r, result_repairs& rep, std::string_view name)
{
    return counted(r, lenient_int64(r), rep, name);
}

std::optional<double> optional_double(const json_reader& r, result_repairs& rep, std::string_view name)
{
    return counted(r, lenient_double(r), rep, name);
}

}  // namespace detail
}  // namespace kiemidi::api
