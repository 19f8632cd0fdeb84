// boundary: c++-style
// The contact job kinds: upsert_contato (find or create the party's contact and bring
// it up to date) and desativar_contato (mark it inactive, or release a removed party's
// contact). Load: the party's row and its mapping (party_reader.cpp). Plan: a
// core::ContactSync, ContactDeactivation or ContactRelease. Record: the mapping rows
// in chatwoot.partes_chatwoot.
#include "core/contacts/contact_sync.hpp"
#include "core/text/text.hpp"
#include "pg/boundary/qualified_sql.hpp"
#include "pg/boundary/spi_rows.hpp"
#include "pg/contacts/contact_job.hpp"
#include "pg/contacts/party_reader.hpp"
#include "pg/outbox/job_kind.hpp"
#include "pg/outbox/outbox_table.hpp"
#include "pg/settings.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chatwoot::pg {

namespace {

class PlannedContact final : public PlannedJob {
public:
    enum class Step { sync, release, deactivation };
    PlannedContact(Job job, Step step, std::unique_ptr<core::ContactOperation> operation)
        : PlannedJob(std::move(job)), step(step), op(std::move(operation)) {}
    core::HttpOperation* operation() override { return op.get(); }
    JobResult result() const override {
        const core::ContactSyncResult& r = op->result();
        JobResult out;
        out.outcome = r.outcome;
        out.error = r.error;
        out.requests = r.requests;
        out.sent = true;
        out.throttled = r.throttled;
        out.aborted = r.aborted;
        out.retry_after = r.retry_after;
        return out;
    }
    const core::ContactSyncResult& contact_result() const { return op->result(); }
    const core::ContactSync& sync() const { return static_cast<const core::ContactSync&>(*op); }
    const ContactJob& data() const { return static_cast<const ContactJob&>(*job.data); }

    Step step;
    std::unique_ptr<core::ContactOperation> op;
};

// The party that took over a released contact's identity owns it now, and syncs its
// own data onto it.
void record_new_owner(const core::PartyRef& owner, std::int64_t contact_id) {
    sql_exec("UPDATE chatwoot.partes_chatwoot SET proprietario = true "
             "WHERE tipo_entidade OPERATOR(pg_catalog.=) $1 AND entidade_id OPERATOR(pg_catalog.=) $2 "
             "AND chatwoot_contact_id OPERATOR(pg_catalog.=) $3",
             {arg_text(owner.tipo_entidade), arg_int8(owner.entidade_id), arg_int8(contact_id)});
    queue_parties("upsert_contato", owner.tipo_entidade, {owner.entidade_id});
}

// A removed party let its contact go: the mapping keeps only a trace of it.
void record_release(const PlannedContact& plan, const Connection& conn) {
    const core::ContactSyncResult& r = plan.contact_result();
    if (!r.released_contact) return;
    sql_exec(
        "UPDATE chatwoot.partes_chatwoot SET chatwoot_contact_id = NULL, proprietario = false, removida = false, "
        "  sincronizado = false, source_id = NULL, chatwoot_inbox_id = NULL, ultima_sincronizacao = pg_catalog.now(), "
        "  erro_sincronizacao = " SQL_NULLIF("$4", "''") ", dados_sincronizados = pg_catalog.jsonb_build_object("
        "    'contato_liberado', $3::pg_catalog.int8, 'anterior', dados_sincronizados) "
        "WHERE tipo_entidade OPERATOR(pg_catalog.=) $1 AND entidade_id OPERATOR(pg_catalog.=) $2 "
        "  AND chatwoot_contact_id OPERATOR(pg_catalog.=) $3",
        {arg_text(plan.job.tipo_entidade), arg_int8(plan.job.entidade_id), arg_int8(*r.released_contact),
         arg_text(recorded(conn, r.notes))});
    if (r.new_owner) record_new_owner(*r.new_owner, *r.released_contact);
}

void record_deactivation(const PlannedContact& plan, const Connection& conn) {
    const core::ContactSyncResult& r = plan.contact_result();
    sql_exec(
        "UPDATE chatwoot.partes_chatwoot SET sincronizado = false, ultima_sincronizacao = pg_catalog.now(), "
        "erro_sincronizacao = " SQL_NULLIF("$3", "''") ", "
        // A merge survivor that carries the party's identifier is the party's contact now.
        "chatwoot_contact_id = CASE WHEN $4 OPERATOR(pg_catalog.>) 0 AND chatwoot_contact_id IS NOT NULL "
        "  THEN $4 ELSE chatwoot_contact_id END "
        "WHERE tipo_entidade OPERATOR(pg_catalog.=) $1 AND entidade_id OPERATOR(pg_catalog.=) $2",
        {arg_text(plan.job.tipo_entidade), arg_int8(plan.job.entidade_id), arg_text(recorded(conn, r.notes)),
         arg_int8(r.contact_id)});
}

// The conflicting mapping pointed at another contact than the one synced now.
#define CONTACT_CHANGED SQL_IS_DISTINCT("p.chatwoot_contact_id", "EXCLUDED.chatwoot_contact_id")

// One owner per contact (index partes_chatwoot_um_proprietario). Two parties whose keys
// do not overlap (one's e-mail, the other's phone) can adopt the same contact in one
// batch, and each write its identifier. The one that comes second (another party
// already owns the contact, or an earlier job of this batch took it) is left unmapped
// with the conflict recorded, and the owner is synced again to put its identity back.
// A party of this batch that owned the contact and moves to another is also taken as
// holding it: the unique index is checked row by row, so a swap could fail the batch.
std::vector<const PlannedContact*> without_second_owners(const std::vector<const PlannedContact*>& plans,
                                                         const Connection& conn) {
    std::vector<std::int64_t> owned;
    for (const PlannedContact* plan : plans)
        if (plan->contact_result().owner && plan->contact_result().contact_id > 0)
            owned.push_back(plan->contact_result().contact_id);
    if (owned.empty()) return plans;
    std::map<std::int64_t, core::PartyRef> holder;
    auto rows = sql_rows(
        "SELECT chatwoot_contact_id, tipo_entidade, entidade_id FROM chatwoot.partes_chatwoot "
        "WHERE proprietario AND chatwoot_contact_id OPERATOR(pg_catalog.=) ANY ($1) "
        "  AND COALESCE(integracao_id, 0) OPERATOR(pg_catalog.=) $2",
        {arg_int8_array(owned), arg_int8(conn.integracao_id.value_or(0))});
    for (const auto& row : rows) holder[row.int8(0)] = core::PartyRef{row.text(1), row.int8(2)};
    std::vector<const PlannedContact*> kept;
    for (const PlannedContact* plan : plans) {
        const core::ContactSyncResult& r = plan->contact_result();
        if (!r.owner || r.contact_id <= 0) {
            kept.push_back(plan);
            continue;
        }
        auto it = holder.find(r.contact_id);
        if (it == holder.end() ||
            (it->second.tipo_entidade == plan->job.tipo_entidade && it->second.entidade_id == plan->job.entidade_id)) {
            holder[r.contact_id] = core::PartyRef{plan->job.tipo_entidade, plan->job.entidade_id};
            kept.push_back(plan);
            continue;
        }
        const core::PartyRef& owner = it->second;
        std::string why = "conflito: o contato " + std::to_string(r.contact_id) + " do Chatwoot já pertence a " +
                          owner.tipo_entidade + " " + std::to_string(owner.entidade_id) +
                          " (as chaves desta parte o acharam ao mesmo tempo); a parte ficou sem contato";
        sql_exec(
            "INSERT INTO chatwoot.partes_chatwoot AS p (tipo_entidade, entidade_id, integracao_id, sincronizado, "
            "  erro_sincronizacao, ultima_sincronizacao) VALUES ($1, $2, $3, false, $4, pg_catalog.now()) "
            "ON CONFLICT (tipo_entidade, entidade_id) DO UPDATE SET chatwoot_contact_id = NULL, proprietario = false, "
            "  sincronizado = false, source_id = NULL, chatwoot_inbox_id = NULL, "
            "  erro_sincronizacao = EXCLUDED.erro_sincronizacao, ultima_sincronizacao = pg_catalog.now()",
            {arg_text(plan->job.tipo_entidade), arg_int8(plan->job.entidade_id),
             conn.integracao_id ? arg_int8(*conn.integracao_id) : arg_null(INT8OID), arg_text(recorded(conn, why))});
        queue_parties("upsert_contato", owner.tipo_entidade, {owner.entidade_id});
    }
    return kept;
}

// All successful syncs of a batch in one statement: one parse, one plan, one round of
// index maintenance, instead of one statement per job.
void record_successful_syncs(const std::vector<const PlannedContact*>& all_plans, const Connection& conn) {
    if (all_plans.empty()) return;
    std::vector<const PlannedContact*> plans = without_second_owners(all_plans, conn);
    if (plans.empty()) return;
    std::vector<std::int64_t> job_ids, entity_ids, contact_ids, requests, inbox_ids;
    std::vector<std::string> kinds, source_ids, snapshots, active, problems, owners, released;
    for (const PlannedContact* plan : plans) {
        const core::ContactSyncResult& r = plan->contact_result();
        job_ids.push_back(plan->job.id);
        kinds.push_back(plan->job.tipo_entidade);
        entity_ids.push_back(plan->job.entidade_id);
        contact_ids.push_back(r.contact_id);
        requests.push_back(r.requests);
        source_ids.push_back(r.source_id ? recorded(conn, *r.source_id) : "");
        inbox_ids.push_back(r.inbox_id.value_or(0));
        // dados_sincronizados: what we sent (an owner's last body; a sharer sends none)
        // and what Chatwoot holds, two JSON texts the core produced, joined here and
        // parsed once by the server.
        const std::string& sent = plan->sync().sent_body();
        snapshots.push_back("{\"enviado\":" + (sent.empty() ? std::string("null") : sent) +
                            ",\"chatwoot\":" + (r.snapshot_json.empty() ? std::string("{}") : r.snapshot_json) + "}");
        active.push_back(plan->sync().draft().ativo ? "true" : "false");
        std::string text = plan->sync().draft().problems_text();
        if (!r.notes.empty()) text += (text.empty() ? "" : "; ") + r.notes;
        problems.push_back(recorded(conn, text));
        owners.push_back(r.owner ? "true" : "false");
        released.push_back(r.released_contact ? "true" : "false");
    }
    // The outbox has marked the jobs done (outbox_table.cpp: mark_done). A contact inbox is recorded only when one was made or seen; the removed mark is
    // cleared only by the job that released the removed party's contact (a DELETE that
    // came while this job was on the wire keeps its mark).
    sql_exec(
        "WITH r AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
        "    pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.int8[]), "
        "    pg_catalog.unnest($4::pg_catalog.int8[]), pg_catalog.unnest($5::pg_catalog.int8[]), "
        "    pg_catalog.unnest($6::pg_catalog.text[]), pg_catalog.unnest($7::pg_catalog.int8[]), "
        "    pg_catalog.unnest($8::pg_catalog.text[]), pg_catalog.unnest($9::pg_catalog.text[]), "
        "    pg_catalog.unnest($10::pg_catalog.text[]), pg_catalog.unnest($11::pg_catalog.text[]), "
        "    pg_catalog.unnest($12::pg_catalog.text[])) "
        "    AS r(job_id, tipo_entidade, entidade_id, contact_id, requisicoes, source_id, inbox_id, dados, ativo, "
        "         problemas, proprietario, liberou)) "
        "INSERT INTO chatwoot.partes_chatwoot AS p (tipo_entidade, entidade_id, integracao_id, chatwoot_contact_id, "
        "  chatwoot_account_id, chatwoot_inbox_id, source_id, ultima_sincronizacao, dados_sincronizados, "
        "  sincronizado, erro_sincronizacao, proprietario, removida) "
        "SELECT r.tipo_entidade, r.entidade_id, $13, r.contact_id, $14, " SQL_NULLIF("r.inbox_id", "0") ", "
        "  " SQL_NULLIF("r.source_id", "''") ", pg_catalog.now(), r.dados::pg_catalog.jsonb, r.ativo::pg_catalog.bool, "
        "  " SQL_NULLIF("r.problemas", "''") ", "
        "  r.proprietario::pg_catalog.bool, false FROM r "
        "ON CONFLICT (tipo_entidade, entidade_id) DO UPDATE SET integracao_id = EXCLUDED.integracao_id, "
        "  chatwoot_contact_id = EXCLUDED.chatwoot_contact_id, chatwoot_account_id = EXCLUDED.chatwoot_account_id, "
        "  chatwoot_inbox_id = CASE WHEN EXCLUDED.source_id IS NOT NULL THEN EXCLUDED.chatwoot_inbox_id "
        "    WHEN " CONTACT_CHANGED " THEN NULL ELSE p.chatwoot_inbox_id END, "
        "  source_id = CASE WHEN EXCLUDED.source_id IS NOT NULL THEN EXCLUDED.source_id "
        "    WHEN " CONTACT_CHANGED " THEN NULL ELSE p.source_id END, "
        "  ultima_sincronizacao = pg_catalog.now(), dados_sincronizados = EXCLUDED.dados_sincronizados, "
        "  sincronizado = EXCLUDED.sincronizado, erro_sincronizacao = EXCLUDED.erro_sincronizacao, "
        "  proprietario = EXCLUDED.proprietario, "
        "  removida = p.removida AND NOT (SELECT r.liberou::pg_catalog.bool FROM r "
        "    WHERE r.tipo_entidade OPERATOR(pg_catalog.=) p.tipo_entidade "
        "      AND r.entidade_id OPERATOR(pg_catalog.=) p.entidade_id)",
        {arg_int8_array(job_ids), arg_text_array(kinds), arg_int8_array(entity_ids), arg_int8_array(contact_ids),
         arg_int8_array(requests), arg_text_array(source_ids), arg_int8_array(inbox_ids), arg_text_array(snapshots),
         arg_text_array(active), arg_text_array(problems), arg_text_array(owners), arg_text_array(released),
         conn.integracao_id ? arg_int8(*conn.integracao_id) : arg_null(INT8OID),
         arg_int4(static_cast<int>(conn.config.account_id))});
    for (const PlannedContact* plan : plans) {
        const core::ContactSyncResult& r = plan->contact_result();
        if (r.new_owner && r.released_contact) record_new_owner(*r.new_owner, *r.released_contact);
    }
}

class ContactKinds final : public JobKind {
public:
    std::vector<std::string> tipos() const override { return {"upsert_contato", "desativar_contato"}; }

    void load(std::vector<Job*>& jobs, const Connection& conn) override {
        std::vector<ContactJob*> contacts;
        contacts.reserve(jobs.size());
        for (Job* job : jobs) {
            auto data = std::make_shared<ContactJob>();
            data->tipo_entidade = job->tipo_entidade;
            data->entidade_id = job->entidade_id;
            contacts.push_back(data.get());
            job->data = std::move(data);
        }
        if (!contacts.empty()) load_parties(contacts, conn.config.default_inbox_id);
    }

    std::unique_ptr<PlannedJob> plan(Job job, const PlanContext& context) override {
        auto* data = dynamic_cast<ContactJob*>(job.data.get());
        if (!data) return cannot_run(std::move(job), "a parte não foi lida");
        const core::ContactLink& link = data->link;
        core::PartyRef party{job.tipo_entidade, job.entidade_id};
        using Step = PlannedContact::Step;
        if (!data->waiting.empty()) {
            std::string why = data->waiting;
            return must_wait(std::move(job), std::move(why), std::chrono::seconds(5));
        }
        if (!data->unreadable.empty()) {
            std::string why = data->unreadable;
            return cannot_run(std::move(job), std::move(why));
        }
        // A kind no longer tracked (its table dropped, in a rebuild migration) keeps its
        // pending deactivations: they need only the mapping, never the row.
        if (!data->tracked && job.tipo == "desativar_contato" && link.contact_id) {
            if (link.removed) {
                auto release = std::make_unique<core::ContactRelease>(context.requests, party, link, settings.delete_contacts);
                return std::make_unique<PlannedContact>(std::move(job), Step::release, std::move(release));
            }
            auto deactivation =
                std::make_unique<core::ContactDeactivation>(context.requests, party, *link.contact_id, link.others_active);
            return std::make_unique<PlannedContact>(std::move(job), Step::deactivation, std::move(deactivation));
        }
        if (!data->tracked) {
            std::string why = "tipo_entidade \"" + job.tipo_entidade + "\" não é mais rastreado; nada enviado";
            return nothing_to_do(std::move(job), std::move(why));
        }
        if (data->party && job.tipo == "upsert_contato") {
            auto sync = std::make_unique<core::ContactSync>(context.requests, core::draft_contact(*data->party), link,
                                                            context.inbox, settings.delete_contacts);
            return std::make_unique<PlannedContact>(std::move(job), Step::sync, std::move(sync));
        }
        if (data->party && !link.removed && link.contact_id) {  // desincronizar: the party stays
            auto deactivation =
                std::make_unique<core::ContactDeactivation>(context.requests, party, *link.contact_id, link.others_active);
            return std::make_unique<PlannedContact>(std::move(job), Step::deactivation, std::move(deactivation));
        }
        if (link.contact_id) {  // the row is gone (or its id was a removed party's)
            auto release = std::make_unique<core::ContactRelease>(context.requests, party, link, settings.delete_contacts);
            return std::make_unique<PlannedContact>(std::move(job), Step::release, std::move(release));
        }
        bool exists = data->party.has_value();
        return nothing_to_do(std::move(job), exists ? "nada a fazer" : "a linha não existe mais e não havia contato mapeado");
    }

    void record_successes(const std::vector<const PlannedJob*>& jobs, const Connection& conn) override {
        std::vector<const PlannedContact*> syncs;
        for (const PlannedJob* job : jobs) {
            auto* plan = dynamic_cast<const PlannedContact*>(job);
            if (!plan) continue;
            switch (plan->step) {
                case PlannedContact::Step::sync: syncs.push_back(plan); break;
                case PlannedContact::Step::release: record_release(*plan, conn); break;
                case PlannedContact::Step::deactivation: record_deactivation(*plan, conn); break;
            }
        }
        record_successful_syncs(syncs, conn);
    }

    void record_dead_letter(const Job& job, const std::string& error) override {
        sql_exec(
            "INSERT INTO chatwoot.partes_chatwoot AS p (tipo_entidade, entidade_id, sincronizado, erro_sincronizacao) "
            "VALUES ($1, $2, false, $3) ON CONFLICT (tipo_entidade, entidade_id) DO UPDATE "
            "SET erro_sincronizacao = EXCLUDED.erro_sincronizacao",
            {arg_text(job.tipo_entidade), arg_int8(job.entidade_id), arg_text(error)});
    }
};

}  // namespace

// The registration: the outbox drains these tipos through ContactKinds.
static const bool contact_kinds_registered = register_job_kind(std::make_unique<ContactKinds>());

}  // namespace chatwoot::pg
