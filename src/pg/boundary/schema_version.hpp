// boundary: postgres-style
// The installed schema against the library. One chatwoot_sync.so serves every
// database, and each database's schema is upgraded on its own (ALTER EXTENSION
// chatwoot_sync UPDATE): until then, the library must not run its SQL against a schema
// it was not written for. The worker waits (worker_status: esquema_desatualizado) and
// the SQL-callable functions refuse, except those that must work on any version (see
// CHATWOOT_FUNCTION_ANY_SCHEMA in boundary.hpp and the triggers in change_capture.cpp).
#pragma once
#include "pg/boundary/pg_headers.hpp"

#ifndef CHATWOOT_SYNC_VERSION
#error "CHATWOOT_SYNC_VERSION must be defined (the Makefile passes EXTVERSION)"
#endif

namespace chatwoot::pg {

constexpr const char* kLibraryVersion = CHATWOOT_SYNC_VERSION;

// pg_extension.extversion of chatwoot_sync in the current database (one index probe by
// name), palloc'd in the current memory context; nullptr when it is not installed.
// Needs a transaction.
char* installed_schema_version();

// When `installed` is not the library's version: writes why, in Portuguese, to
// `message` and returns true.
bool describe_schema_mismatch(const char* installed, char* message, size_t size);

// ERROR (object_not_in_prerequisite_state) unless the installed schema is the
// library's version. Passes inside CREATE / ALTER EXTENSION chatwoot_sync: the script
// running is the one that sets the version.
void require_current_schema();

}  // namespace chatwoot::pg
