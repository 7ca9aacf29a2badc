// The SQLite journal of a batch: schema, prepared statements and the track state machine.
//
// Each state change is `BEGIN IMMEDIATE; UPDATE ... WHERE id = ? AND state IN (allowed); COMMIT`
// with synchronous=FULL in WAL mode, so once a call returns the change survives a power loss.
//
// The schema, its upgrades and the stored spellings live in journal_schema.cpp; the statements that move a track
// between states are here, together.
#include <kiemidi/journal.hpp>
#include "journal_schema.hpp"

#include <boost/system/system_error.hpp>

#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <utility>

namespace kiemidi {

namespace {

class journal_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "kiemidi.journal"; }
    std::string message(int ev) const override
    {
        switch (static_cast<journal_errc>(ev))
        {
        case journal_errc::invalid_transition: return "the track's state does not allow this journal change";
        case journal_errc::unknown_track: return "the journal has no track with this id";
        case journal_errc::newer_schema: return "the journal was written by a newer kiemidi";
        case journal_errc::not_open: return "the journal is not open";
        }
        return "unknown journal error";
    }
};

class sqlite_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "kiemidi.sqlite"; }
    std::string message(int ev) const override { return ::sqlite3_errstr(ev); }
};

std::int64_t now_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

namespace detail {
// Named, not file-local: journal::impl, a class the public header declares, holds these statements.
struct sqlite_statement_finalizer
{
    void operator()(sqlite3_stmt* s) const noexcept { ::sqlite3_finalize(s); }
};
using sqlite_statement_ptr = std::unique_ptr<sqlite3_stmt, sqlite_statement_finalizer>;
}  // namespace detail
using detail::sqlite_statement_ptr;

const boost::system::error_category& get_journal_category() noexcept
{
    static const journal_category_impl c;
    return c;
}

const boost::system::error_category& get_sqlite_category() noexcept
{
    static const sqlite_category_impl c;
    return c;
}

std::string_view to_string(journal_stage s) noexcept
{
    return s == journal_stage::separation ? "separation" : "midi";
}

struct journal::impl
{
    std::filesystem::path path;
    sqlite3* db = nullptr;
    mutable std::mutex mtx;
    sqlite_statement_ptr insert, select_all, select_one, update_state, begin, commit, rollback, count;

    ~impl()
    {
        insert.reset(); select_all.reset(); select_one.reset(); update_state.reset();
        begin.reset(); commit.reset(); rollback.reset(); count.reset();
        if (db) ::sqlite3_close_v2(db);
    }

    error_code fail(int rc, diagnostics& diag, std::string_view what) const
    {
        std::string msg(what);
        msg += ": ";
        msg += db ? ::sqlite3_errmsg(db) : ::sqlite3_errstr(rc);
        msg += " (" + path.string() + ")";
        diag.set_client_message(std::move(msg));
        diag.set_stage("journal");
        return error_code(rc == SQLITE_OK ? SQLITE_ERROR : rc, get_sqlite_category());
    }

    error_code exec(const char* sql, diagnostics& diag)
    {
        char* err = nullptr;
        int rc = ::sqlite3_exec(db, sql, nullptr, nullptr, &err);
        if (rc != SQLITE_OK)
        {
            std::string m = err ? err : ::sqlite3_errstr(rc);
            ::sqlite3_free(err);
            diag.set_client_message(std::string("journal: ") + m + " (" + path.string() + ")");
            diag.set_stage("journal");
            return error_code(rc, get_sqlite_category());
        }
        return {};
    }

    error_code prepare(sqlite_statement_ptr& out, const char* sql, diagnostics& diag)
    {
        sqlite3_stmt* s = nullptr;
        int rc = ::sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
        if (rc != SQLITE_OK) return fail(rc, diag, "cannot prepare a journal statement");
        out.reset(s);
        return {};
    }

    /// Runs a statement that returns no rows, then resets it.
    error_code step_done(sqlite3_stmt* s, diagnostics& diag, std::string_view what)
    {
        int rc = ::sqlite3_step(s);
        ::sqlite3_reset(s);
        ::sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE) return fail(rc, diag, what);
        return {};
    }

    static std::string column_text(sqlite3_stmt* s, int i)
    {
        auto p = ::sqlite3_column_text(s, i);
        return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(::sqlite3_column_bytes(s, i)))
                 : std::string();
    }

    static journal_entry read_row(sqlite3_stmt* s)
    {
        journal_entry e;
        e.id = ::sqlite3_column_int64(s, 0);
        e.track.task_id = column_text(s, 1);
        e.track.audio_id = column_text(s, 2);
        e.track.name = column_text(s, 3);
        e.state = track_state_from_string(column_text(s, 4)).value_or(track_state::failed);
        e.separation_task_id = column_text(s, 5);
        e.midi_task_id = column_text(s, 6);
        e.error = column_text(s, 7);
        e.failed_stage = column_text(s, 8);
        e.attempts = static_cast<unsigned>(::sqlite3_column_int64(s, 9));
        e.intent_ref = column_text(s, 10);
        e.track.separation = api::separation_type_from_string(column_text(s, 11));
        e.track.stem = column_text(s, 12);
        e.track.separation_task_id = column_text(s, 13);
        return e;
    }

    error_code bind_text(sqlite3_stmt* s, int i, std::string_view v, diagnostics& diag)
    {
        int rc = ::sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        if (rc != SQLITE_OK) return fail(rc, diag, "cannot bind a journal value");
        return {};
    }

    error_code get_locked(std::int64_t id, journal_entry& out, diagnostics& diag)
    {
        sqlite3_stmt* s = select_one.get();
        ::sqlite3_bind_int64(s, 1, id);
        int rc = ::sqlite3_step(s);
        error_code ec;
        if (rc == SQLITE_ROW) out = read_row(s);
        else if (rc == SQLITE_DONE)
        {
            diag.set_client_message("journal has no track with id " + std::to_string(id));
            ec = journal_errc::unknown_track;
        }
        else ec = fail(rc, diag, "cannot read a track from the journal");
        ::sqlite3_reset(s);
        ::sqlite3_clear_bindings(s);
        return ec;
    }

    struct change
    {
        std::optional<track_state> to;            // new state
        std::optional<std::string> separation_task_id;
        std::optional<std::string> midi_task_id;
        std::optional<std::string> error;
        std::optional<std::string> failed_stage;
        std::optional<std::string> intent_ref;
        bool count_attempt = false;
    };

    /// Applies `ch` to track `id` in one transaction when `allowed(current)` holds. `decide`
    /// may fill the change from the current entry (used by requeue).
    template <class Allowed, class Decide>
    error_code transition(std::int64_t id, Allowed allowed, Decide decide, std::string_view what, diagnostics& diag)
    {
        std::lock_guard lock(mtx);
        if (auto ec = step_done(begin.get(), diag, "cannot begin a journal transaction")) return ec;
        auto abort = [&](error_code ec) {
            diagnostics ignored;
            step_done(rollback.get(), ignored, "rollback");
            return ec;
        };
        journal_entry cur;
        if (auto ec = get_locked(id, cur, diag)) return abort(ec);
        if (!allowed(cur.state))
        {
            diag.set_client_message("journal: cannot " + std::string(what) + " track " + std::to_string(id) + " (\"" +
                                    cur.track.name + "\") in state " + std::string(to_string(cur.state)));
            diag.set_stage("journal");
            return abort(journal_errc::invalid_transition);
        }
        change ch = decide(cur);
        sqlite3_stmt* s = update_state.get();
        const auto& st = ch.to ? to_string(*ch.to) : to_string(cur.state);
        error_code ec;
        if (!ec) ec = bind_text(s, 1, st, diag);
        if (!ec) ec = bind_text(s, 2, ch.separation_task_id.value_or(cur.separation_task_id), diag);
        if (!ec) ec = bind_text(s, 3, ch.midi_task_id.value_or(cur.midi_task_id), diag);
        if (!ec) ec = bind_text(s, 4, ch.error.value_or(cur.error), diag);
        if (!ec) ec = bind_text(s, 5, ch.failed_stage.value_or(cur.failed_stage), diag);
        if (!ec) ::sqlite3_bind_int64(s, 6, cur.attempts + (ch.count_attempt ? 1 : 0));
        if (!ec) ::sqlite3_bind_int64(s, 7, now_ms());
        if (!ec) ::sqlite3_bind_int64(s, 8, id);
        if (!ec) ec = bind_text(s, 9, ch.intent_ref.value_or(cur.intent_ref), diag);
        if (!ec) ec = step_done(s, diag, "cannot update a track in the journal");
        else { ::sqlite3_reset(s); ::sqlite3_clear_bindings(s); }
        if (ec) return abort(ec);
        if (auto cec = step_done(commit.get(), diag, "cannot commit a journal transaction")) return abort(cec);
        return {};
    }
};

journal::journal() noexcept = default;
journal::journal(journal&&) noexcept = default;
journal& journal::operator=(journal&&) noexcept = default;
journal::~journal() = default;

bool journal::is_open() const noexcept { return impl_ && impl_->db; }

const std::filesystem::path& journal::path() const noexcept
{
    static const std::filesystem::path empty;
    return impl_ ? impl_->path : empty;
}

journal journal::open(const std::filesystem::path& path, error_code& ec, diagnostics& diag)
{
    ec = {};
    auto im = std::make_unique<impl>();
    im->path = path;
    int rc = ::sqlite3_open_v2(path.c_str(), &im->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK)
    {
        ec = im->fail(rc, diag, "cannot open the journal");
        return journal();
    }
    ::sqlite3_extended_result_codes(im->db, 1);
    ::sqlite3_busy_timeout(im->db, 5000);
    // WAL keeps readers (e.g. a status command) out of the writer's way; FULL syncs every commit.
    if ((ec = im->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", diag))) return journal();

    int version = 0;
    {
        sqlite_statement_ptr v;
        if ((ec = im->prepare(v, "PRAGMA user_version", diag))) return journal();
        if (::sqlite3_step(v.get()) == SQLITE_ROW) version = ::sqlite3_column_int(v.get(), 0);
    }
    if (version > schema_version)
    {
        diag.set_client_message("journal " + path.string() + " has schema version " + std::to_string(version) +
                                "; this kiemidi knows up to " + std::to_string(schema_version));
        diag.set_stage("journal");
        ec = journal_errc::newer_schema;
        return journal();
    }
    if (version < schema_version)
    {
        std::string sql = "BEGIN IMMEDIATE;" + detail::journal_upgrade_sql(version) +
                          "PRAGMA user_version = " + std::to_string(schema_version) + "; COMMIT;";
        if ((ec = im->exec(sql.c_str(), diag)))
        {
            diagnostics ignored;
            im->exec("ROLLBACK;", ignored);
            return journal();
        }
    }

    if ((ec = im->prepare(im->insert,
                          // A track naming a finished separation starts where a separated track would
                          // be: separating, with that task id known.
                          "INSERT OR IGNORE INTO tracks (task_id, audio_id, name, separation_type, stem, source_separation, "
                          "state, separation_task_id, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?5, ?6, ?7, "
                          "CASE WHEN ?7 = '' THEN 'pending' ELSE 'separating' END, ?7, ?4, ?4)",
                          diag)) ||
        (ec = im->prepare(im->select_all,
                          "SELECT id, task_id, audio_id, name, state, separation_task_id, midi_task_id, error, failed_stage, "
                          "attempts, intent_ref, separation_type, stem, source_separation FROM tracks ORDER BY id",
                          diag)) ||
        (ec = im->prepare(im->select_one,
                          "SELECT id, task_id, audio_id, name, state, separation_task_id, midi_task_id, error, failed_stage, "
                          "attempts, intent_ref, separation_type, stem, source_separation FROM tracks WHERE id = ?1",
                          diag)) ||
        (ec = im->prepare(im->update_state,
                          "UPDATE tracks SET state = ?1, separation_task_id = ?2, midi_task_id = ?3, error = ?4, "
                          "failed_stage = ?5, attempts = ?6, updated_ms = ?7, intent_ref = ?9 WHERE id = ?8",
                          diag)) ||
        (ec = im->prepare(im->begin, "BEGIN IMMEDIATE", diag)) || (ec = im->prepare(im->commit, "COMMIT", diag)) ||
        (ec = im->prepare(im->rollback, "ROLLBACK", diag)) ||
        (ec = im->prepare(im->count, "SELECT state, COUNT(*) FROM tracks GROUP BY state", diag)))
        return journal();

    journal j;
    j.impl_ = std::move(im);
    return j;
}

namespace {
void throw_if(const error_code& ec, const diagnostics& diag)
{
    if (ec) throw_on_error(ec, diag);
}
}  // namespace

journal journal::open(const std::filesystem::path& path)
{
    error_code ec;
    diagnostics diag;
    auto j = open(path, ec, diag);
    throw_if(ec, diag);
    return j;
}

namespace {
error_code not_open(diagnostics& diag)
{
    diag.set_client_message("the journal is not open");
    return journal_errc::not_open;
}
}  // namespace

error_code journal::add_tracks(std::span<const track_spec> tracks, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    auto& im = *impl_;
    std::lock_guard lock(im.mtx);
    if (auto ec = im.step_done(im.begin.get(), diag, "cannot begin a journal transaction")) return ec;
    const auto t = now_ms();
    for (const auto& tr : tracks)
    {
        sqlite3_stmt* s = im.insert.get();
        error_code ec = im.bind_text(s, 1, tr.task_id, diag);
        if (!ec) ec = im.bind_text(s, 2, tr.audio_id, diag);
        if (!ec) ec = im.bind_text(s, 3, tr.name, diag);
        if (!ec) ::sqlite3_bind_int64(s, 4, t);
        // "" rather than an empty view: a null pointer would bind NULL, which NOT NULL refuses.
        if (!ec) ec = im.bind_text(s, 5, tr.separation ? api::to_string(*tr.separation) : std::string_view(""), diag);
        if (!ec) ec = im.bind_text(s, 6, tr.stem, diag);
        if (!ec) ec = im.bind_text(s, 7, tr.separation_task_id, diag);
        if (!ec) ec = im.step_done(s, diag, "cannot add a track to the journal");
        if (ec)
        {
            diagnostics ignored;
            im.step_done(im.rollback.get(), ignored, "rollback");
            return ec;
        }
    }
    return im.step_done(im.commit.get(), diag, "cannot commit a journal transaction");
}

void journal::add_tracks(std::span<const track_spec> tracks)
{
    diagnostics diag;
    throw_if(add_tracks(tracks, diag), diag);
}

error_code journal::entries(std::vector<journal_entry>& out, diagnostics& diag) const
{
    if (!is_open()) return not_open(diag);
    auto& im = *impl_;
    std::lock_guard lock(im.mtx);
    out.clear();
    sqlite3_stmt* s = im.select_all.get();
    int rc;
    while ((rc = ::sqlite3_step(s)) == SQLITE_ROW) out.push_back(impl::read_row(s));
    ::sqlite3_reset(s);
    if (rc != SQLITE_DONE) return im.fail(rc, diag, "cannot read the journal");
    return {};
}

std::vector<journal_entry> journal::entries() const
{
    diagnostics diag;
    std::vector<journal_entry> out;
    throw_if(entries(out, diag), diag);
    return out;
}

error_code journal::get(std::int64_t id, journal_entry& out, diagnostics& diag) const
{
    if (!is_open()) return not_open(diag);
    std::lock_guard lock(impl_->mtx);
    return impl_->get_locked(id, out, diag);
}

journal_entry journal::get(std::int64_t id) const
{
    diagnostics diag;
    journal_entry e;
    throw_if(get(id, e, diag), diag);
    return e;
}

error_code journal::record_intent(std::int64_t id, journal_stage stage, diagnostics& diag)
{
    return record_intent(id, stage, std::string_view(), diag);
}

error_code journal::record_intent(std::int64_t id, journal_stage stage, std::string_view callback_reference, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    const auto from = stage == journal_stage::separation ? track_state::pending : track_state::separating;
    const auto to = stage == journal_stage::separation ? track_state::separation_intent : track_state::midi_intent;
    return impl_->transition(
        id, [&](track_state s) { return s == from; },
        [&](const journal_entry&) {
            impl::change ch;
            ch.to = to;
            ch.count_attempt = true;
            ch.intent_ref = std::string(callback_reference);
            return ch;
        },
        "record the " + std::string(to_string(stage)) + " intent of", diag);
}

void journal::record_intent(std::int64_t id, journal_stage stage)
{
    diagnostics diag;
    throw_if(record_intent(id, stage, diag), diag);
}

void journal::record_intent(std::int64_t id, journal_stage stage, std::string_view callback_reference)
{
    diagnostics diag;
    throw_if(record_intent(id, stage, callback_reference, diag), diag);
}

error_code journal::record_task_id(std::int64_t id, journal_stage stage, std::string_view kie_task_id, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    const auto from = stage == journal_stage::separation ? track_state::separation_intent : track_state::midi_intent;
    const auto to = stage == journal_stage::separation ? track_state::separating : track_state::transcribing;
    return impl_->transition(
        id, [&](track_state s) { return s == from; },
        [&](const journal_entry&) {
            impl::change ch;
            ch.to = to;
            if (stage == journal_stage::separation) ch.separation_task_id = std::string(kie_task_id);
            else ch.midi_task_id = std::string(kie_task_id);
            return ch;
        },
        "record the " + std::string(to_string(stage)) + " task id of", diag);
}

void journal::record_task_id(std::int64_t id, journal_stage stage, std::string_view kie_task_id)
{
    diagnostics diag;
    throw_if(record_task_id(id, stage, kie_task_id, diag), diag);
}

error_code journal::mark_done(std::int64_t id, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    return impl_->transition(
        id, [](track_state s) { return s == track_state::transcribing || s == track_state::not_written; },
        [](const journal_entry&) {
            impl::change ch;
            ch.to = track_state::done;
            ch.error = std::string();
            ch.failed_stage = std::string();
            return ch;
        },
        "mark done", diag);
}

void journal::mark_done(std::int64_t id)
{
    diagnostics diag;
    throw_if(mark_done(id, diag), diag);
}

error_code journal::mark_failed(std::int64_t id, std::string_view stage, std::string_view error, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    return impl_->transition(
        id, [](track_state s) { return s != track_state::done; },
        [&](const journal_entry&) {
            impl::change ch;
            ch.to = track_state::failed;
            ch.error = std::string(error);
            ch.failed_stage = std::string(stage);
            return ch;
        },
        "mark failed", diag);
}

void journal::mark_failed(std::int64_t id, std::string_view stage, std::string_view error)
{
    diagnostics diag;
    throw_if(mark_failed(id, stage, error, diag), diag);
}

error_code journal::mark_outcome_unknown(std::int64_t id, std::string_view error, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    return impl_->transition(
        id, [](track_state s) { return s == track_state::separation_intent || s == track_state::midi_intent; },
        [&](const journal_entry& cur) {
            impl::change ch;
            ch.to = track_state::outcome_unknown;
            ch.error = std::string(error);
            ch.failed_stage = cur.state == track_state::separation_intent ? "separation" : "midi";
            return ch;
        },
        "mark the outcome unknown of", diag);
}

void journal::mark_outcome_unknown(std::int64_t id, std::string_view error)
{
    diagnostics diag;
    throw_if(mark_outcome_unknown(id, error, diag), diag);
}

track_state requeue_target(const journal_entry& e) noexcept
{
    if (e.state == track_state::result_lost)
        return e.track.separation_task_id.empty() ? track_state::pending : track_state::separating;
    if (!e.midi_task_id.empty()) return track_state::transcribing;
    if (!e.separation_task_id.empty()) return track_state::separating;
    return track_state::pending;
}

error_code journal::mark_not_written(std::int64_t id, std::string_view error, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    return impl_->transition(
        id,
        [](track_state s) {
            return s == track_state::transcribing || s == track_state::not_written || s == track_state::done;
        },
        [&](const journal_entry&) {
            impl::change ch;
            ch.to = track_state::not_written;
            ch.error = std::string(error);
            ch.failed_stage = "output";
            return ch;
        },
        "mark not written", diag);
}

void journal::mark_not_written(std::int64_t id, std::string_view error)
{
    diagnostics diag;
    throw_if(mark_not_written(id, error, diag), diag);
}

error_code journal::mark_result_lost(std::int64_t id, std::string_view error, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    return impl_->transition(
        id, [](track_state s) { return s == track_state::not_written; },
        [&](const journal_entry&) {
            impl::change ch;
            ch.to = track_state::result_lost;
            ch.error = std::string(error);
            ch.failed_stage = "output";
            return ch;
        },
        "mark the result lost of", diag);
}

void journal::mark_result_lost(std::int64_t id, std::string_view error)
{
    diagnostics diag;
    throw_if(mark_result_lost(id, error, diag), diag);
}

error_code journal::requeue(std::int64_t id, journal_stage redo, track_state& out_state, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    return impl_->transition(
        id, [](track_state s) { return s == track_state::failed; },
        [&](const journal_entry& cur) {
            impl::change ch;
            ch.midi_task_id = std::string();
            if (redo == journal_stage::separation) ch.separation_task_id = cur.track.separation_task_id;
            const auto& sid = ch.separation_task_id ? *ch.separation_task_id : cur.separation_task_id;
            ch.to = sid.empty() ? track_state::pending : track_state::separating;
            ch.error = std::string();
            ch.failed_stage = std::string();
            out_state = *ch.to;
            return ch;
        },
        "requeue", diag);
}

error_code journal::requeue(std::int64_t id, track_state& out_state, diagnostics& diag)
{
    if (!is_open()) return not_open(diag);
    return impl_->transition(
        id,
        [](track_state s) {
            return s == track_state::failed || s == track_state::outcome_unknown || s == track_state::result_lost;
        },
        [&](const journal_entry& cur) {
            impl::change ch;
            ch.to = requeue_target(cur);
            if (cur.state == track_state::result_lost)
            {
                // KIE no longer has the result: the paid steps start again from the beginning
                // (a track naming its separation keeps it).
                ch.midi_task_id = std::string();
                ch.separation_task_id = cur.track.separation_task_id;
            }
            ch.error = std::string();
            ch.failed_stage = std::string();
            out_state = *ch.to;
            return ch;
        },
        "requeue", diag);
}

track_state journal::requeue(std::int64_t id)
{
    diagnostics diag;
    track_state s{};
    throw_if(requeue(id, s, diag), diag);
    return s;
}

error_code journal::counts(journal_counts& out, diagnostics& diag) const
{
    if (!is_open()) return not_open(diag);
    auto& im = *impl_;
    std::lock_guard lock(im.mtx);
    out = {};
    sqlite3_stmt* s = im.count.get();
    int rc;
    while ((rc = ::sqlite3_step(s)) == SQLITE_ROW)
    {
        auto st = track_state_from_string(impl::column_text(s, 0)).value_or(track_state::failed);
        auto n = static_cast<std::size_t>(::sqlite3_column_int64(s, 1));
        out.by_state[static_cast<std::size_t>(st)] += n;
        out.total += n;
    }
    ::sqlite3_reset(s);
    if (rc != SQLITE_DONE) return im.fail(rc, diag, "cannot count the journal's tracks");
    return {};
}

journal_counts journal::counts() const
{
    diagnostics diag;
    journal_counts c;
    throw_if(counts(c, diag), diag);
    return c;
}

}  // namespace kiemidi
