// boundary: c++-style
// Reads, inside the claim transaction, what the claimed jobs need: each party's row
// as it is now (through its table's mapping) and its Chatwoot mapping.
#pragma once
#include "pg/contacts/contact_job.hpp"

#include <optional>
#include <string>
#include <vector>

namespace chatwoot::pg {

// Fills `party`, `tracked`, `unreadable` and `link` of every job. Each table is read
// in a subtransaction under its owner's identity, and only through a mapping that
// still fits it: a renamed or dropped column, a dropped table, a missing privilege
// or any other error fails that table's jobs (with the reason), never the claim.
// `default_inbox_id` decides ContactLink::has_contact_inbox. A mapping that no longer
// fits is recorded in chatwoot.rastreamentos.erro (worker_status and
// erros_sincronizacao show it from there).
void load_parties(std::vector<ContactJob*>& jobs, std::optional<std::int64_t> default_inbox_id);

}  // namespace chatwoot::pg
