// boundary: c++-style
// One claimed row of chatwoot.fila, as the outbox sees it: which party, which kind
// of work, how many attempts. What a kind reads for it in the claim transaction
// hangs off `data` (see job_kind.hpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace chatwoot::pg {

struct JobData {
    virtual ~JobData() = default;
};

struct Job {
    std::int64_t id = 0;
    std::string tipo;           // the job kind (upsert_contato, desativar_contato...)
    std::string tipo_entidade;  // the party: its kind and id
    std::int64_t entidade_id = 0;
    int tentativas = 0;
    bool newest = false;        // claimed from the newest end of the due jobs
    std::shared_ptr<JobData> data;  // filled by the kind's load()
};

}  // namespace chatwoot::pg
