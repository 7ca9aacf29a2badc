// The journal's schema and its upgrades (see journal_schema.hpp).
#include "journal_schema.hpp"

#include <kiemidi/track.hpp>

#include <array>

namespace kiemidi {

namespace {

// Indexed by track_state; the names are stored in the journal (and the shared state), so they
// never change.
constexpr std::array<std::string_view, track_state_count> state_names{
    "pending", "separation_intent", "separating", "midi_intent", "transcribing", "done", "failed", "outcome_unknown",
    "not_written", "result_lost"};

}  // namespace

std::string_view to_string(track_state s) noexcept
{
    auto i = static_cast<std::size_t>(s);
    return i < state_names.size() ? state_names[i] : std::string_view("unknown");
}

std::optional<track_state> track_state_from_string(std::string_view s) noexcept
{
    for (std::size_t i = 0; i < state_names.size(); ++i)
        if (state_names[i] == s) return static_cast<track_state>(i);
    return std::nullopt;
}

}  // namespace kiemidi

namespace kiemidi::detail {

namespace {

const std::string schema_sql =
    "CREATE TABLE IF NOT EXISTS tracks ("
    " id INTEGER PRIMARY KEY,"
    " task_id TEXT NOT NULL,"
    " audio_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','separation_intent','separating',"
    "'midi_intent','transcribing','done','failed','outcome_unknown','not_written','result_lost')),"
    " separation_task_id TEXT NOT NULL DEFAULT '',"
    " midi_task_id TEXT NOT NULL DEFAULT '',"
    " error TEXT NOT NULL DEFAULT '',"
    " failed_stage TEXT NOT NULL DEFAULT '',"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " intent_ref TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL DEFAULT 0,"
    " updated_ms INTEGER NOT NULL DEFAULT 0,"
    " separation_type TEXT NOT NULL DEFAULT '',"
    " stem TEXT NOT NULL DEFAULT '',"
    " source_separation TEXT NOT NULL DEFAULT '',"
    " UNIQUE (task_id, audio_id, name, separation_type, stem, source_separation));"
    "CREATE INDEX IF NOT EXISTS tracks_state ON tracks(state);";

// Version 1 → 2: the callback reference of each paid intent, to find its task after a crash.
const std::string migrate_v1_sql = "ALTER TABLE tracks ADD COLUMN intent_ref TEXT NOT NULL DEFAULT '';";

// Version 2 → 3: the per-track choices (track_spec::separation, stem, separation_task_id),
// '' for the tracks already there (the batch's defaults, as before). They are part of a track's
// identity, and SQLite cannot widen a table's UNIQUE constraint in place, so the table is
// rebuilt with the new schema and every row copied (same ids, states and task ids).
const std::string migrate_v2_sql = "ALTER TABLE tracks RENAME TO tracks_v2;"
                                   "DROP INDEX IF EXISTS tracks_state;" +
                                   schema_sql +
                                   "INSERT INTO tracks (id, task_id, audio_id, name, state, separation_task_id, midi_task_id, "
                                   "error, failed_stage, attempts, intent_ref, created_ms, updated_ms) "
                                   "SELECT id, task_id, audio_id, name, state, separation_task_id, midi_task_id, error, "
                                   "failed_stage, attempts, intent_ref, created_ms, updated_ms FROM tracks_v2;"
                                   "DROP TABLE tracks_v2;";

// Version 3 → 4: the states not_written and result_lost. The state CHECK cannot be widened in
// place either, so the table is rebuilt. A track an earlier version failed "at output" after
// KIE finished (its MIDI task id is recorded) was paid for and only its files are missing: it
// becomes not_written, so the next run fetches its result for free instead of leaving it failed.
const std::string migrate_v3_sql = "ALTER TABLE tracks RENAME TO tracks_v3;"
                                   "DROP INDEX IF EXISTS tracks_state;" +
                                   schema_sql +
                                   "INSERT INTO tracks (id, task_id, audio_id, name, state, separation_task_id, midi_task_id, "
                                   "error, failed_stage, attempts, intent_ref, created_ms, updated_ms, separation_type, stem, "
                                   "source_separation) "
                                   "SELECT id, task_id, audio_id, name, CASE WHEN state = 'failed' AND failed_stage = 'output' "
                                   "AND midi_task_id <> '' THEN 'not_written' ELSE state END, separation_task_id, midi_task_id, "
                                   "error, failed_stage, attempts, intent_ref, created_ms, updated_ms, separation_type, stem, "
                                   "source_separation FROM tracks_v3;"
                                   "DROP TABLE tracks_v3;";

}  // namespace

std::string journal_upgrade_sql(int from_version)
{
    switch (from_version)
    {
    case 0: return schema_sql;
    case 1: return migrate_v1_sql + migrate_v2_sql + migrate_v3_sql;
    case 2: return migrate_v2_sql + migrate_v3_sql;
    case 3: return migrate_v3_sql;
    default: return {};
    }
}

}  // namespace kiemidi::detail
