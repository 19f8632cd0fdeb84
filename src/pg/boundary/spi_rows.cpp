// boundary: c++-style
#include "pg/boundary/spi_rows.hpp"

#include "core/error.hpp"
#include "pg/boundary/app_code_fence.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/resowner.h"
}

namespace chatwoot::pg {

SqlArg arg_text(const std::string& value) {
    return {TEXTOID, pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(value.data(), value.size())); }),
            false};
}

SqlArg arg_int8(std::int64_t value) { return {INT8OID, Int64GetDatum(value), false}; }
SqlArg arg_int4(int value) { return {INT4OID, Int32GetDatum(value), false}; }
SqlArg arg_null(Oid type) { return {type, (Datum)0, true}; }

SqlArg arg_int8_array(const std::vector<std::int64_t>& values) {
    const std::int64_t* data = values.data();
    int count = static_cast<int>(values.size());
    Datum array = pg_call([data, count] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (count > 0 ? count : 1)));
        for (int i = 0; i < count; ++i) elems[i] = Int64GetDatum(data[i]);
        return PointerGetDatum(construct_array(elems, count, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
    return {INT8ARRAYOID, array, false};
}

SqlArg arg_text_array(const std::vector<std::string>& values) {
    const std::string* data = values.data();
    int count = static_cast<int>(values.size());
    Datum array = pg_call([data, count] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (count > 0 ? count : 1)));
        for (int i = 0; i < count; ++i)
            elems[i] = PointerGetDatum(cstring_to_text_with_len(data[i].data(), data[i].size()));
        return PointerGetDatum(construct_array(elems, count, TEXTOID, -1, false, TYPALIGN_INT));
    });
    return {TEXTARRAYOID, array, false};
}

namespace {

// Plain palloc'd result of one query: safe to build under PG_TRY.
struct RawArray {
    int count;
    int64* values;
};

struct RawResult {
    uint64 rows;
    int columns;
    char** cells;       // rows * columns text forms, NULL for SQL NULL
    bool* nulls;        // rows * columns
    int64* numbers;     // rows * columns: integer and boolean columns
    RawArray* arrays;   // rows * columns: bigint[] columns
    int* kinds;         // columns: SqlRow::Kind
};

int kind_of(Oid type) {
    switch (type) {
        case INT8OID:
        case INT4OID:
        case INT2OID:
        case OIDOID: return static_cast<int>(SqlRow::Kind::integer);
        case BOOLOID: return static_cast<int>(SqlRow::Kind::boolean);
        case INT8ARRAYOID: return static_cast<int>(SqlRow::Kind::int8_array);
        default: return static_cast<int>(SqlRow::Kind::text);
    }
}

int64 number_of(Datum value, Oid type) {
    switch (type) {
        case INT8OID: return DatumGetInt64(value);
        case INT4OID: return DatumGetInt32(value);
        case INT2OID: return DatumGetInt16(value);
        case OIDOID: return DatumGetObjectId(value);
        case BOOLOID: return DatumGetBool(value) ? 1 : 0;
        default: return 0;
    }
}

RawArray int8_array_of(Datum value) {
    ArrayType* array = DatumGetArrayTypeP(value);
    Datum* elems = nullptr;
    bool* elem_nulls = nullptr;
    int n = 0;
    deconstruct_array(array, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &elem_nulls, &n);
    RawArray out{0, static_cast<int64*>(palloc(sizeof(int64) * (n > 0 ? n : 1)))};
    for (int i = 0; i < n; ++i)
        if (!elem_nulls[i]) out.values[out.count++] = DatumGetInt64(elems[i]);
    return out;
}

RawResult run(const char* sql, const std::vector<SqlArg>& args, bool keep_rows) {
    int nargs = static_cast<int>(args.size());
    const SqlArg* a = args.data();
    return pg_call([=] {
        Oid* types = static_cast<Oid*>(palloc(sizeof(Oid) * (nargs > 0 ? nargs : 1)));
        Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * (nargs > 0 ? nargs : 1)));
        char* nulls = static_cast<char*>(palloc(nargs + 1));
        for (int i = 0; i < nargs; ++i) {
            types[i] = a[i].type;
            values[i] = a[i].value;
            nulls[i] = a[i].isnull ? 'n' : ' ';
        }
        nulls[nargs] = '\0';
        int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
        if (rc < 0)
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg_internal("chatwoot_sync: SPI failed (%d) running: %s", rc, sql)));
        RawResult raw{SPI_processed, 0, nullptr, nullptr, nullptr, nullptr, nullptr};
        if (keep_rows && SPI_tuptable != nullptr) {
            TupleDesc desc = SPI_tuptable->tupdesc;
            raw.columns = desc->natts;
            std::size_t n = raw.rows * raw.columns + 1;
            raw.cells = static_cast<char**>(palloc0(sizeof(char*) * n));
            raw.nulls = static_cast<bool*>(palloc0(sizeof(bool) * n));
            raw.numbers = static_cast<int64*>(palloc0(sizeof(int64) * n));
            raw.arrays = static_cast<RawArray*>(palloc0(sizeof(RawArray) * n));
            raw.kinds = static_cast<int*>(palloc0(sizeof(int) * (raw.columns + 1)));
            Oid* column_types = static_cast<Oid*>(palloc(sizeof(Oid) * (raw.columns + 1)));
            for (int c = 0; c < raw.columns; ++c) {
                column_types[c] = SPI_gettypeid(desc, c + 1);
                raw.kinds[c] = kind_of(column_types[c]);
            }
            for (uint64 r = 0; r < raw.rows; ++r)
                for (int c = 0; c < raw.columns; ++c) {
                    std::size_t i = r * raw.columns + c;
                    bool isnull = false;
                    Datum value = SPI_getbinval(SPI_tuptable->vals[r], desc, c + 1, &isnull);
                    raw.nulls[i] = isnull;
                    if (isnull) continue;
                    raw.cells[i] = SPI_getvalue(SPI_tuptable->vals[r], desc, c + 1);
                    if (raw.kinds[c] == static_cast<int>(SqlRow::Kind::int8_array))
                        raw.arrays[i] = int8_array_of(value);
                    else
                        raw.numbers[i] = number_of(value, column_types[c]);
                }
        }
        return raw;
    });
}

}  // namespace

const SqlRow::Cell& SqlRow::typed(std::size_t column, Kind kind) const {
    if (!kinds_ || column >= cells_.size() || (*kinds_)[column] != kind)
        throw core::CoreError("chatwoot_sync: column " + std::to_string(column + 1) + " read with the wrong type");
    return cells_[column];
}

std::int64_t SqlRow::int8(std::size_t column, std::int64_t if_null) const {
    const Cell& cell = typed(column, Kind::integer);
    return cell.is_null ? if_null : cell.number;
}

std::optional<std::int64_t> SqlRow::int8_or_null(std::size_t column) const {
    const Cell& cell = typed(column, Kind::integer);
    return cell.is_null ? std::nullopt : std::optional<std::int64_t>(cell.number);
}

bool SqlRow::boolean(std::size_t column, bool if_null) const {
    const Cell& cell = typed(column, Kind::boolean);
    return cell.is_null ? if_null : cell.number != 0;
}

std::string SqlRow::text(std::size_t column, const std::string& if_null) const {
    const SqlValue& value = texts_.at(column);
    return value ? *value : if_null;
}

const std::vector<std::int64_t>& SqlRow::int8_array(std::size_t column) const {
    return typed(column, Kind::int8_array).numbers;
}

SqlRows sql_rows(const char* sql, const std::vector<SqlArg>& args) {
    RawResult raw = run(sql, args, true);
    SqlRows result;
    auto kinds = std::make_shared<std::vector<SqlRow::Kind>>();
    for (int c = 0; c < raw.columns; ++c) kinds->push_back(static_cast<SqlRow::Kind>(raw.kinds[c]));
    result.rows_.reserve(raw.rows);
    for (uint64 r = 0; r < raw.rows; ++r) {
        std::vector<SqlValue> texts;
        std::vector<SqlRow::Cell> cells;
        texts.reserve(raw.columns);
        cells.reserve(raw.columns);
        for (int c = 0; c < raw.columns; ++c) {
            std::size_t i = r * raw.columns + c;
            texts.push_back(raw.cells[i] ? SqlValue(raw.cells[i]) : std::nullopt);
            SqlRow::Cell cell;
            cell.is_null = raw.nulls[i];
            cell.number = raw.numbers[i];
            if (raw.arrays[i].count > 0) cell.numbers.assign(raw.arrays[i].values, raw.arrays[i].values + raw.arrays[i].count);
            cells.push_back(std::move(cell));
        }
        result.rows_.emplace_back(std::move(texts), std::move(cells), kinds);
    }
    return result;
}

std::uint64_t sql_exec(const char* sql, const std::vector<SqlArg>& args) { return run(sql, args, false).rows; }

SqlRows rows_without(std::initializer_list<const char*> plan_types, const char* sql,
                                 const std::vector<SqlArg>& args) {
    for (const char* type : plan_types) sql_exec((std::string("SET LOCAL ") + type + " = off").c_str());
    auto rows = sql_rows(sql, args);
    for (const char* type : plan_types) sql_exec((std::string("SET LOCAL ") + type + " TO DEFAULT").c_str());
    return rows;
}

SqlRows rows_by_key(const char* sql, const std::vector<SqlArg>& args) {
    return rows_without({"enable_seqscan", "enable_hashjoin", "enable_mergejoin"}, sql, args);
}

void begin_worker_transaction(const char* activity) {
    pg_call([activity] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        if (SPI_connect() != SPI_OK_CONNECT) ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
        PushActiveSnapshot(GetTransactionSnapshot());
        pgstat_report_activity(STATE_RUNNING, activity);
    });
}

void commit_worker_transaction() {
    pg_call([] {
        SPI_finish();
        PopActiveSnapshot();
        CommitTransactionCommand();
        pgstat_report_stat(false);
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
}

std::optional<std::string> in_subtransaction(const std::function<void()>& body, int* sqlstate) {
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    pg_call([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(caller_context);
    try {
        body();
    } catch (const PgError& e) {
        ErrorData* error = e.data();
        pg_call([] { RollbackAndReleaseCurrentSubTransaction(); });
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
        if (error->sqlerrcode == ERRCODE_QUERY_CANCELED || error->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN) throw;
        if (sqlstate) *sqlstate = error->sqlerrcode;
        return std::string(error->message ? error->message : "erro desconhecido");
    } catch (...) {
        pg_call([] { RollbackAndReleaseCurrentSubTransaction(); });
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
        throw;
    }
    pg_call([] { ReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;
    return std::nullopt;
}

void with_setting(const char* name, const char* value, const std::function<void()>& body) {
    int level = 0;
    // PGC_S_SESSION: above the worker's forced (PGC_S_OVERRIDE) settings, and
    // transactional (an OVERRIDE would replace the default for good).
    pg_call([&] {
        level = NewGUCNestLevel();
        (void)set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    });
    body();
    pg_call([level] { AtEOXact_GUC(false, level); });
}

void as_table_owner(Oid owner, const std::function<void()>& body) {
    AppCodeFence fence;
    int limit_ms = IsBackgroundWorker ? settings.app_code_timeout_ms : 0;
    pg_call([&] { enter_app_code_fence(&fence, owner, limit_ms); });
    try {
        body();
    } catch (const PgError&) {
        if (leave_app_code_fence(&fence))  // the timer's cancel becomes this read's own failure
            pg_call([limit_ms] {
                ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                                errmsg("a leitura da tabela do aplicativo excedeu o tempo limite de %d ms "
                                       "(chatwoot_sync.app_code_timeout)", limit_ms)));
            });
        throw;
    } catch (...) {
        leave_app_code_fence(&fence);
        throw;
    }
    leave_app_code_fence(&fence);
}

}  // namespace chatwoot::pg
