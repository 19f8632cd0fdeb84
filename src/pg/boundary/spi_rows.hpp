// boundary: c++-style
// SPI for C++ callers: every PostgreSQL call runs under pg_call, and results come
// back as plain C++ values, so no PostgreSQL error ever unwinds through the
// caller's C++ objects (see boundary.hpp).
#pragma once
#include "pg/boundary/boundary.hpp"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::pg {

using SqlValue = std::optional<std::string>;  // text output form; empty when NULL
using SqlRow = std::vector<SqlValue>;

struct SqlArg {
    Oid type;
    Datum value;
    bool isnull;
};

// Argument builders (they palloc in the current memory context).
SqlArg arg_text(const std::string& value);
SqlArg arg_int8(std::int64_t value);
SqlArg arg_int4(int value);
SqlArg arg_null(Oid type);
SqlArg arg_int8_array(const std::vector<std::int64_t>& values);
SqlArg arg_text_array(const std::vector<std::string>& values);

// Needs an open transaction and SPI connection.
std::vector<SqlRow> sql_rows(const char* sql, const std::vector<SqlArg>& args = {});
std::uint64_t sql_exec(const char* sql, const std::vector<SqlArg>& args = {});

// A value of a row as a number (0 when NULL).
std::int64_t sql_int(const SqlValue& value);

// Runs one read with some of the planner's plan types switched off for it alone
// (SET LOCAL, put back after). The statistics of the outbox, and of tables a bulk
// load has just filled, lag far behind, and the worker's reads must keep to an index
// whatever the planner believes.
std::vector<SqlRow> rows_without(std::initializer_list<const char*> plan_types, const char* sql,
                                 const std::vector<SqlArg>& args = {});

// A statement that reaches a claim's parties by key: one index probe each. The
// planner, costing random reads as if from disk and with statistics that lag a bulk
// load, would rather scan and hash the whole table (all the firm's clients, every
// mapping, every pending job) on every claim. A table without an index on the key is
// still read, by a scan.
std::vector<SqlRow> rows_by_key(const char* sql, const std::vector<SqlArg>& args);

// A transaction with SPI connected and a snapshot, for the worker's short steps.
void begin_worker_transaction(const char* activity);
void commit_worker_transaction();

// Runs `body` in a subtransaction of the open transaction: an ERROR inside rolls
// back only what `body` did (identity and settings included) and comes back as the
// returned message; nullopt when it succeeded. A cancel or a shutdown is rethrown.
std::optional<std::string> in_subtransaction(const std::function<void()>& body);

// Runs `body` as `owner` in a security-restricted operation (as autovacuum and
// REFRESH MATERIALIZED VIEW read a table): a cast or type function of the owner's
// then runs with the owner's rights, not the worker's. Call it inside
// in_subtransaction: an ERROR there restores the identity.
void as_table_owner(Oid owner, const std::function<void()>& body);

}  // namespace chatwoot::pg
