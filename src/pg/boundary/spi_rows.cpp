// boundary: c++-style
#include "pg/boundary/spi_rows.hpp"

extern "C" {
#include "utils/array.h"
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
struct RawResult {
    uint64 rows;
    int columns;
    char** cells;  // rows * columns, NULL for SQL NULL
};

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
        if (rc < 0) ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("chatwoot_sync: SPI failed (%d) running: %s", rc, sql)));
        RawResult raw{SPI_processed, 0, nullptr};
        if (keep_rows && SPI_tuptable != nullptr) {
            raw.columns = SPI_tuptable->tupdesc->natts;
            raw.cells = static_cast<char**>(palloc0(sizeof(char*) * (raw.rows * raw.columns + 1)));
            for (uint64 r = 0; r < raw.rows; ++r)
                for (int c = 0; c < raw.columns; ++c)
                    raw.cells[r * raw.columns + c] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1);
        }
        return raw;
    });
}

}  // namespace

std::vector<SqlRow> sql_rows(const char* sql, const std::vector<SqlArg>& args) {
    RawResult raw = run(sql, args, true);
    std::vector<SqlRow> rows;
    rows.reserve(raw.rows);
    for (uint64 r = 0; r < raw.rows; ++r) {
        SqlRow row;
        row.reserve(raw.columns);
        for (int c = 0; c < raw.columns; ++c) {
            char* cell = raw.cells[r * raw.columns + c];
            row.push_back(cell ? SqlValue(cell) : std::nullopt);
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

std::uint64_t sql_exec(const char* sql, const std::vector<SqlArg>& args) { return run(sql, args, false).rows; }

std::int64_t sql_int(const SqlValue& value) { return value ? std::stoll(*value) : 0; }

std::vector<SqlRow> rows_without(std::initializer_list<const char*> plan_types, const char* sql,
                                 const std::vector<SqlArg>& args) {
    for (const char* type : plan_types) sql_exec((std::string("SET LOCAL ") + type + " = off").c_str());
    auto rows = sql_rows(sql, args);
    for (const char* type : plan_types) sql_exec((std::string("SET LOCAL ") + type + " TO DEFAULT").c_str());
    return rows;
}

std::vector<SqlRow> rows_by_key(const char* sql, const std::vector<SqlArg>& args) {
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

std::optional<std::string> in_subtransaction(const std::function<void()>& body) {
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

void as_table_owner(Oid owner, const std::function<void()>& body) {
    Oid caller = InvalidOid;
    int caller_context = 0;
    pg_call([&] {
        GetUserIdAndSecContext(&caller, &caller_context);
        SetUserIdAndSecContext(owner, caller_context | SECURITY_RESTRICTED_OPERATION);
    });
    body();  // an ERROR leaves the identity to the subtransaction's rollback
    pg_call([&] { SetUserIdAndSecContext(caller, caller_context); });
}

}  // namespace chatwoot::pg
