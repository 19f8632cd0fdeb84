// boundary: postgres-style
// The launcher background worker (see launcher.cpp) and the per-database worker (worker.cpp).
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace chatwoot::pg {
void register_launcher();
}

extern "C" {
PGDLLEXPORT void chatwoot_launcher_main(Datum);
PGDLLEXPORT void chatwoot_worker_main(Datum);
}
