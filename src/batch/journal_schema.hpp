// The journal's SQLite schema and the steps that upgrade a file written by an earlier kiemidi.
// Track states and separation types are stored as to_string spells them.
// Internal (journal.cpp).
#ifndef KIEMIDI_SRC_BATCH_JOURNAL_SCHEMA_HPP
#define KIEMIDI_SRC_BATCH_JOURNAL_SCHEMA_HPP

#include <kiemidi/api/separation.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::detail {

/// The SQL that brings a journal at PRAGMA user_version `from_version` (0: a new file) to the
/// current schema (journal::schema_version), without the surrounding transaction and without
/// setting user_version.
std::string journal_upgrade_sql(int from_version);

}  // namespace kiemidi::detail

#endif
