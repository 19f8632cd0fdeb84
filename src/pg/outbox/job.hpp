// boundary: c++-style
// One claimed row of chatwoot.fila, with what the claim transaction read for it.
#pragma once
#include "core/contacts/contact_draft.hpp"
#include "core/contacts/contact_sync.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace chatwoot::pg {

struct Job {
    std::int64_t id = 0;
    std::string tipo;                          // upsert_contato, desativar_contato
    std::string tipo_entidade;
    std::int64_t entidade_id = 0;
    int tentativas = 0;
    bool tracked = true;                       // the kind is still in chatwoot.rastreamentos
    std::string unreadable;                    // the kind's rows could not be read: why (the job fails)
    std::optional<core::PartySnapshot> party;  // the row as it is now; empty when gone
    core::ContactLink link;                    // the party's Chatwoot side (partes_chatwoot)
};

}  // namespace chatwoot::pg
