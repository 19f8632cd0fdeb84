// boundary: c++-style
// What the claim transaction reads for one contact job (upsert_contato,
// desativar_contato): the party's row as it is now and its Chatwoot side.
#pragma once
#include "core/contacts/contact_draft.hpp"
#include "core/contacts/contact_sync.hpp"
#include "pg/outbox/job.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace chatwoot::pg {

struct ContactJob final : JobData {
    std::string tipo_entidade;
    std::int64_t entidade_id = 0;
    bool tracked = true;                       // the kind is still in chatwoot.rastreamentos
    std::string unreadable;                    // the kind's rows could not be read: why (the job fails)
    std::string waiting;                       // the app holds the kind's table locked: why (the job waits)
    std::optional<core::PartySnapshot> party;  // the row as it is now; empty when gone
    core::ContactLink link;                    // the party's Chatwoot side (partes_chatwoot)
};

}  // namespace chatwoot::pg
