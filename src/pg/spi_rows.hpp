// SPI for C++ callers: every PostgreSQL call runs under pg_call, and results come
// back as plain C++ values, so no PostgreSQL error ever unwinds through the
// caller's C++ objects (see boundary.hpp).
#pragma once
#include "pg/boundary.hpp"

#include <cstdint>
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

// A transaction with SPI connected and a snapshot, for the worker's short steps.
void begin_worker_transaction(const char* activity);
void commit_worker_transaction();

}  // namespace chatwoot::pg
