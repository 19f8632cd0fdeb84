// boundary: c++-style
// The change log (chatwoot.mudancas), drained into the outbox (chatwoot.fila).
#pragma once

#include <cstdint>

namespace chatwoot::pg {

// Moves every logged change into the outbox, in the open worker transaction: rows
// whose table and kind chatwoot.rastreamentos does not list are dropped; a bulk
// statement's chunk (more than 1,000 inserted ids) becomes a 'lote' job; every other
// party gets (or merges into) its pending job, by its last change in log order
// (inserts and deletions due at once, updates debounced), and a removed party's
// mapping is marked removed. Returns how many log rows it consumed.
std::int64_t ingest_changes();

}  // namespace chatwoot::pg
