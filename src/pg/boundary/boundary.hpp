// boundary: c++-style
// The error boundary between PostgreSQL and C++ (one mechanism, used everywhere):
//
//  * PostgreSQL reports errors with ereport(ERROR), a longjmp. A longjmp across a
//    C++ frame skips destructors (leaking curl handles, jansson values, strings).
//    So every PostgreSQL call made while C++ objects are alive goes through
//    pg_call(), which catches the longjmp right there and rethrows it as a C++
//    PgError; destructors then run normally as it propagates.
//  * A C++ exception must never reach PostgreSQL code (it would terminate the
//    backend). Every SQL-callable function is declared with CHATWOOT_FUNCTION,
//    whose wrapper catches everything and, only after every C++ frame is gone,
//    re-raises a PgError as the original PostgreSQL error or reports any other
//    exception as a clean ERROR.
//
// PgError must always propagate to the wrapper: catching and dropping it would
// leave PostgreSQL believing an error is being handled.
#pragma once
#include "pg/boundary/pg_headers.hpp"
#include "pg/boundary/schema_version.hpp"

#include <exception>
#include <new>
#include <type_traits>
#include <utility>

namespace chatwoot::pg {

class PgError final : public std::exception {
public:
    explicit PgError(ErrorData* data) : data_(data) {}
    const char* what() const noexcept override { return data_ && data_->message ? data_->message : "PostgreSQL error"; }
    ErrorData* data() const { return data_; }

private:
    ErrorData* data_;  // palloc'd copy, in the memory context current at the failed call
};

// The one PG_TRY of the extension (boundary.cpp): runs `body(arg)` and returns the
// ereport(ERROR) it raised, copied into the memory context current at the call
// (the error state is flushed), or nullptr. `body` must own no C++ objects with
// destructors. PostgreSQL-style code that must clean up after an error calls it
// directly and re-raises with ReThrowError; C++ code calls pg_call.
ErrorData* catch_pg_error(void (*body)(void*), void* arg);

// Runs PostgreSQL code `f` (which must itself own no C++ objects with
// destructors) and turns an ereport(ERROR) inside it into a thrown PgError.
template <typename F>
auto pg_call(F&& f) -> decltype(f()) {
    using Fn = std::remove_reference_t<F>;
    using Result = decltype(f());
    if constexpr (std::is_void_v<Result>) {
        ErrorData* error = catch_pg_error(+[](void* p) { (*static_cast<Fn*>(p))(); }, &f);
        if (error) throw PgError(error);
    } else {
        static_assert(std::is_trivially_copyable_v<Result>, "pg_call returns plain values (Datum, pointers, ints)");
        struct Call {
            Fn* f;
            Result result;  // read only when no longjmp happened
        } call{&f, Result{}};
        ErrorData* error = catch_pg_error(+[](void* p) {
            auto* c = static_cast<Call*>(p);
            c->result = (*c->f)();
        }, &call);
        if (error) throw PgError(error);
        return call.result;
    }
}

// Where exceptions end: called by the CHATWOOT_FUNCTION wrapper and by the
// background worker's entry points. Never returns when `body` threw.
template <typename F>
Datum cpp_entry(const char* function_name, F&& body) {
    // A C++ exception can leave PostgreSQL's stacks pointing into frames it unwound
    // (a handler or an error context pushed below us and never popped): put them back
    // as they were at entry before raising, as pg_duckdb's guard does.
    sigjmp_buf* entry_exception_stack = PG_exception_stack;
    ErrorContextCallback* entry_context_stack = error_context_stack;
    ErrorData* pg_error = nullptr;
    bool out_of_memory = false;
    char message[1024];
    message[0] = '\0';
    try {
        return body();
    } catch (const PgError& e) {
        pg_error = e.data();
    } catch (const std::bad_alloc&) {
        out_of_memory = true;
    } catch (const std::exception& e) {
        strlcpy(message, e.what(), sizeof(message));
    } catch (...) {
        strlcpy(message, "unknown C++ exception", sizeof(message));
    }
    // Every C++ frame below us has been unwound; raising a PostgreSQL error is safe now.
    PG_exception_stack = entry_exception_stack;
    error_context_stack = entry_context_stack;
    if (pg_error) ReThrowError(pg_error);
    if (out_of_memory)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("chatwoot_sync: out of memory in %s", function_name)));
    ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("chatwoot_sync: %s", message),
                    errcontext("C++ function %s", function_name)));
    pg_unreachable();
}

}  // namespace chatwoot::pg

// Declares an SQL-callable function whose body is C++ running behind the boundary.
// It refuses to run (an ERROR naming both versions) while this database's schema is
// not the library's version: its SQL may not match the schema.
#define CHATWOOT_FUNCTION(name) CHATWOOT_FUNCTION_CHECKED(name, true)
// The few that must work on any schema version: worker_status() (the DBA must see
// the worker waiting for the update), _registrar_instalacao (inside CREATE EXTENSION
// of any version), and those that only touch shared memory (acordar_worker,
// aguardar_worker).
#define CHATWOOT_FUNCTION_ANY_SCHEMA(name) CHATWOOT_FUNCTION_CHECKED(name, false)

#define CHATWOOT_FUNCTION_CHECKED(name, check_schema)                                             \
    static Datum name##_body(PG_FUNCTION_ARGS);                                                   \
    extern "C" {                                                                                  \
    PG_FUNCTION_INFO_V1(name);                                                                    \
    Datum name(PG_FUNCTION_ARGS) {                                                                \
        if (check_schema) chatwoot::pg::require_current_schema(); /* before any C++ object */     \
        return chatwoot::pg::cpp_entry(#name, [fcinfo]() { return name##_body(fcinfo); });        \
    }                                                                                             \
    }                                                                                             \
    static Datum name##_body(PG_FUNCTION_ARGS)
