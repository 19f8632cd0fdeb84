// boundary: c++-style
// SPI for C++ callers: every PostgreSQL call runs under pg_call, and results come
// back as plain C++ values, so no PostgreSQL error ever unwinds through the
// caller's C++ objects (see boundary.hpp).
#pragma once
#include "pg/boundary/boundary.hpp"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::pg {

struct SqlArg {
    Oid type;
    Datum value;
    bool isnull;
};

using SqlValue = std::optional<std::string>;  // text output form; empty when NULL

// One row of a result. Integer, boolean and bigint[] columns are read as values by
// the server (never parsed back from text); every column also keeps its text form.
// A getter used on a column of another type throws a CoreError (a bug in the query).
class SqlRow {
public:
    struct Cell {
        bool is_null = true;
        std::int64_t number = 0;                // integer types, oid; boolean as 0/1
        std::vector<std::int64_t> numbers;      // bigint[]: its non-NULL elements
    };
    enum class Kind { text, integer, boolean, int8_array };

    SqlRow() = default;
    SqlRow(std::vector<SqlValue> texts, std::vector<Cell> cells, std::shared_ptr<const std::vector<Kind>> kinds)
        : texts_(std::move(texts)), cells_(std::move(cells)), kinds_(std::move(kinds)) {}

    // The text form (as SPI_getvalue prints it); nullopt when NULL.
    const SqlValue& operator[](std::size_t column) const { return texts_[column]; }
    const SqlValue& at(std::size_t column) const { return texts_.at(column); }
    std::size_t size() const { return texts_.size(); }

    bool is_null(std::size_t column) const { return cells_.at(column).is_null; }
    std::int64_t int8(std::size_t column, std::int64_t if_null = 0) const;
    std::optional<std::int64_t> int8_or_null(std::size_t column) const;
    bool boolean(std::size_t column, bool if_null = false) const;
    std::string text(std::size_t column, const std::string& if_null = "") const;
    const std::vector<std::int64_t>& int8_array(std::size_t column) const;

private:
    const Cell& typed(std::size_t column, Kind kind) const;
    std::vector<SqlValue> texts_;
    std::vector<Cell> cells_;
    std::shared_ptr<const std::vector<Kind>> kinds_;  // shared by the rows of one result
};

// The rows of one statement (they share its column kinds).
class SqlRows {
public:
    using const_iterator = std::vector<SqlRow>::const_iterator;
    bool empty() const { return rows_.empty(); }
    std::size_t size() const { return rows_.size(); }
    const SqlRow& operator[](std::size_t i) const { return rows_[i]; }
    const SqlRow& at(std::size_t i) const { return rows_.at(i); }
    const_iterator begin() const { return rows_.begin(); }
    const_iterator end() const { return rows_.end(); }

private:
    friend SqlRows sql_rows(const char* sql, const std::vector<SqlArg>& args);
    std::vector<SqlRow> rows_;
};

// Argument builders (they palloc in the current memory context).
SqlArg arg_text(const std::string& value);
SqlArg arg_int8(std::int64_t value);
SqlArg arg_int4(int value);
SqlArg arg_null(Oid type);
SqlArg arg_int8_array(const std::vector<std::int64_t>& values);
SqlArg arg_text_array(const std::vector<std::string>& values);

// Needs an open transaction and SPI connection.
SqlRows sql_rows(const char* sql, const std::vector<SqlArg>& args = {});
std::uint64_t sql_exec(const char* sql, const std::vector<SqlArg>& args = {});

// Runs one read with some of the planner's plan types switched off for it alone
// (SET LOCAL, put back after). The statistics of the outbox, and of tables a bulk
// load has just filled, lag far behind, and the worker's reads must keep to an index
// whatever the planner believes.
SqlRows rows_without(std::initializer_list<const char*> plan_types, const char* sql,
                                 const std::vector<SqlArg>& args = {});

// A statement that reaches a claim's parties by key: one index probe each. The
// planner, costing random reads as if from disk and with statistics that lag a bulk
// load, would rather scan and hash the whole table (all the firm's clients, every
// mapping, every pending job) on every claim. A table without an index on the key is
// still read, by a scan.
SqlRows rows_by_key(const char* sql, const std::vector<SqlArg>& args);

// A transaction with SPI connected and a snapshot, for the worker's short steps.
void begin_worker_transaction(const char* activity);
void commit_worker_transaction();

// Runs `body` in a subtransaction of the open transaction: an ERROR inside rolls
// back only what `body` did (identity and settings included) and comes back as the
// returned message (its SQLSTATE in *sqlstate when asked); nullopt when it
// succeeded. A cancel or a shutdown is rethrown.
std::optional<std::string> in_subtransaction(const std::function<void()>& body, int* sqlstate = nullptr);

// Runs `body` with a setting changed (the worker's forced settings too);
// the previous value is back afterwards (an ERROR's subtransaction abort restores it).
void with_setting(const char* name, const char* value, const std::function<void()>& body);

// Runs `body` as `owner` in a security-restricted operation (as autovacuum and
// REFRESH MATERIALIZED VIEW read a table): a cast or type function of the owner's
// then runs with the owner's rights, not the worker's. Call it inside
// in_subtransaction: an ERROR there restores the identity.
void as_table_owner(Oid owner, const std::function<void()>& body);

}  // namespace chatwoot::pg
