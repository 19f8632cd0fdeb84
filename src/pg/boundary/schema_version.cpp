// boundary: postgres-style
#include "pg/boundary/schema_version.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

namespace chatwoot::pg {

static constexpr const char* kExtension = "chatwoot_sync";

char* installed_schema_version() {
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum(kExtension));
    SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, nullptr, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    char* version = nullptr;
    if (HeapTupleIsValid(tuple)) {
        bool isnull = true;
        Datum value = heap_getattr(tuple, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
        version = isnull ? pstrdup("") : text_to_cstring(DatumGetTextPP(value));
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return version;
}

bool describe_schema_mismatch(const char* installed, char* message, size_t size) {
    if (strcmp(installed, kLibraryVersion) == 0) return false;
    snprintf(message, size,
             "o esquema chatwoot_sync está na versão %s e a biblioteca na versão %s: "
             "execute ALTER EXTENSION chatwoot_sync UPDATE",
             installed, kLibraryVersion);
    return true;
}

void require_current_schema() {
    if (creating_extension && CurrentExtensionObject == get_extension_oid(kExtension, true)) return;
    char* installed = installed_schema_version();
    char message[256];
    if (installed == nullptr || !describe_schema_mismatch(installed, message, sizeof(message))) return;
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("%s", message),
                    errhint("A biblioteca chatwoot_sync foi atualizada; o esquema deste banco ainda não.")));
}

}  // namespace chatwoot::pg
