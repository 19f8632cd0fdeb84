// boundary: c++-style
#include "pg/contacts/party_reader.hpp"

#include "core/text/text.hpp"
#include "pg/boundary/qualified_sql.hpp"
#include "pg/boundary/spi_rows.hpp"
#include "pg/outbox/outbox.hpp"

extern "C" {
#include "storage/lmgr.h"
}

#include <map>
#include <utility>

namespace chatwoot::pg {

namespace {

// The mapping keys in the order the row query selects them.
constexpr const char* kKeys[] = {"id", "tipo_pessoa", "nome", "emails", "ddd_celular", "numero_celular",
                                 "cpf", "cnpj", "ativo"};
constexpr int kKeyCount = sizeof(kKeys) / sizeof(kKeys[0]);

std::string quote_ident(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    return out + "\"";
}

struct Tracking {
    Oid table = InvalidOid;
    Oid owner = InvalidOid;
    std::string table_name;  // schema-qualified, quoted
    std::string misfit;      // _validar_mapeamento's verdict, empty when the mapping fits
    bool had_error = false;  // rastreamentos.erro was set
    SqlValue columns[kKeyCount];
};

std::optional<Tracking> tracking_of(const std::string& kind) {
    // The table's name always schema-qualified: regclass prints a bare name whenever
    // the caller's search_path sees the table, and the fence reads it with another.
    std::string select =
        "SELECT r.tabela::pg_catalog.oid, c.relowner, "
        "pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) "
        "pg_catalog.quote_ident(c.relname), "
        "chatwoot._validar_mapeamento(r.tabela, r.mapeamento), r.erro IS NOT NULL";
    for (const char* key : kKeys) select += std::string(", r.mapeamento OPERATOR(pg_catalog.->>) '") + key + "'";
    select += " FROM chatwoot.rastreamentos r "
              "LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.tabela "
              "LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
              "WHERE r.tipo_entidade OPERATOR(pg_catalog.=) $1";
    auto rows = sql_rows(select.c_str(), {arg_text(kind)});
    if (rows.empty()) return std::nullopt;
    Tracking t;
    t.table = static_cast<Oid>(rows[0].int8(0));
    t.owner = static_cast<Oid>(rows[0].int8(1));
    t.table_name = rows[0][2].value_or("");
    t.misfit = rows[0][3].value_or("");
    t.had_error = rows[0].boolean(4);
    for (int k = 0; k < kKeyCount; ++k) t.columns[k] = rows[0][5 + k];
    return t;
}

// The misfit is recorded where a DBA looks (rastreamentos.erro, shown by
// erros_sincronizacao), also when the DDL that caused it never reached the event
// trigger; a mapping that fits again clears it.
void record_fit(const std::string& kind, const Tracking& t) {
    if (!t.misfit.empty())
        sql_exec("UPDATE chatwoot.rastreamentos SET erro = $2, erro_em = pg_catalog.now() "
                 "WHERE tipo_entidade OPERATOR(pg_catalog.=) $1 AND " SQL_IS_DISTINCT("erro", "$2"),
                 {arg_text(kind), arg_text(t.misfit)});
    else if (t.had_error)
        sql_exec("UPDATE chatwoot.rastreamentos SET erro = NULL, erro_em = NULL WHERE tipo_entidade OPERATOR(pg_catalog.=) $1",
                 {arg_text(kind)});
}

// SELECT of the mapped columns, by the id column, as text (booleans for ativo).
std::string row_query(const Tracking& t) {
    auto expr = [&](int key, const char* type) {
        return t.columns[key] ? "t." + quote_ident(*t.columns[key]) + "::pg_catalog." + type
                              : std::string("NULL::pg_catalog.") + type;
    };
    std::string query = "SELECT " + expr(0, "int8");
    for (int k = 1; k < kKeyCount - 1; ++k) query += ", " + expr(k, "text");
    query += ", " + expr(kKeyCount - 1, "bool");
    query += " FROM ONLY " + t.table_name + " t WHERE t." + quote_ident(*t.columns[0]) +
             " OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])";
    return query;
}

void read_rows(const std::string& kind, const std::vector<ContactJob*>& kind_jobs) {
    std::optional<Tracking> tracking = tracking_of(kind);
    if (!tracking) {
        for (ContactJob* j : kind_jobs) j->tracked = false;  // no longer tracked: nothing to send
        return;
    }
    const Tracking& t = *tracking;
    record_fit(kind, t);
    if (!t.misfit.empty()) {
        for (ContactJob* j : kind_jobs) j->unreadable = "o mapeamento não corresponde à tabela: " + t.misfit;
        return;
    }
    std::vector<std::int64_t> ids;
    ids.reserve(kind_jobs.size());
    for (ContactJob* j : kind_jobs) ids.push_back(j->entidade_id);
    // A table the app holds locked (LOCK TABLE, ALTER TABLE, VACUUM FULL in a long
    // transaction) is not waited for: this kind's jobs wait, and every other kind goes on.
    auto waiting = [&](const std::string& detail) {
        std::string why = kind + ": aguardando " + t.table_name + ", bloqueada por outra sessão (" + detail + ")";
        note_drain_warning(why.c_str());
        for (ContactJob* j : kind_jobs) j->waiting = why;
    };
    Oid table = t.table;
    if (!pg_call([table] { return ConditionalLockRelationOid(table, AccessShareLock); })) {
        waiting("bloqueio da tabela");
        return;
    }
    std::string query = row_query(t);
    SqlRows rows;
    auto failed = in_subtransaction([&] {
        as_table_owner(t.owner, [&] { rows = rows_by_key(query.c_str(), {arg_int8_array(ids)}); });
    });
    if (failed && failed->find("lock timeout") != std::string::npos) {
        waiting(*failed);
        return;
    }
    if (failed) {
        std::string why = "não foi possível ler " + t.table_name + ": " + *failed;
        if (failed->find("row-level security") != std::string::npos)
            why += " (a tabela usa FORCE ROW LEVEL SECURITY e o chatwoot_sync a lê com row_security = off, sem "
                   "executar as políticas: dê BYPASSRLS ao dono da tabela ou retire o FORCE)";
        for (ContactJob* j : kind_jobs) j->unreadable = why;
        return;
    }
    std::map<std::int64_t, const SqlRow*> found;
    for (auto& r : rows) found[r.int8(0)] = &r;
    for (ContactJob* j : kind_jobs) {
        auto it = found.find(j->entidade_id);
        if (it == found.end()) continue;
        const SqlRow& r = *it->second;
        core::PartySnapshot p;
        p.tipo_entidade = kind;
        p.entidade_id = j->entidade_id;
        p.tipo_pessoa = r[1].value_or("pf");
        p.nome = r[2].value_or("");
        p.emails_json = r[3].value_or("");
        p.phones.push_back({r[4].value_or(""), r[5].value_or("")});
        p.documento = p.tipo_pessoa == "pj" ? r[7].value_or("") : r[6].value_or("");
        p.ativo = r.boolean(8, true);
        j->party = std::move(p);
    }
}

// Each job's mapping: the contact, whether the party owns it, whether it is a removed
// party's, whether another active party shares it (and which, to take over), whether
// its contact inbox exists, and which optional fields the last body sent carried.
void read_links(std::vector<ContactJob*>& jobs, std::optional<std::int64_t> default_inbox_id) {
    std::vector<std::string> kinds;
    std::vector<std::int64_t> ids;
    for (ContactJob* j : jobs) {
        kinds.push_back(j->tipo_entidade);
        ids.push_back(j->entidade_id);
    }
    auto mapped = rows_by_key(
        "SELECT p.tipo_entidade, p.entidade_id, p.chatwoot_contact_id, p.proprietario, p.removida, "
        "  p.source_id IS NOT NULL AND NOT (" SQL_IS_DISTINCT("p.chatwoot_inbox_id", "$3") "), "
        "  pg_catalog.jsonb_typeof(p.dados_sincronizados OPERATOR(pg_catalog.#>) '{enviado,email}') OPERATOR(pg_catalog.=) 'string', "
        "  pg_catalog.jsonb_typeof(p.dados_sincronizados OPERATOR(pg_catalog.#>) '{enviado,phone_number}') OPERATOR(pg_catalog.=) 'string', "
        "  pg_catalog.jsonb_typeof(p.dados_sincronizados OPERATOR(pg_catalog.#>) '{enviado,custom_attributes,documento}') OPERATOR(pg_catalog.=) 'string', "
        "  o.tipo_entidade, o.entidade_id "
        "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.int8[])) "
        "  AS k(tipo_entidade, entidade_id) "
        "JOIN chatwoot.partes_chatwoot p ON p.tipo_entidade OPERATOR(pg_catalog.=) k.tipo_entidade "
        "  AND p.entidade_id OPERATOR(pg_catalog.=) k.entidade_id "
        "LEFT JOIN LATERAL (SELECT o.tipo_entidade, o.entidade_id FROM chatwoot.partes_chatwoot o "
        "   WHERE o.chatwoot_contact_id OPERATOR(pg_catalog.=) p.chatwoot_contact_id AND o.sincronizado AND NOT o.removida "
        "     AND NOT (o.tipo_entidade OPERATOR(pg_catalog.=) p.tipo_entidade AND o.entidade_id OPERATOR(pg_catalog.=) p.entidade_id) "
        "   ORDER BY o.tipo_entidade, o.entidade_id LIMIT 1) o ON true "
        "WHERE p.chatwoot_contact_id IS NOT NULL",
        {arg_text_array(kinds), arg_int8_array(ids),
         default_inbox_id ? arg_int4(static_cast<int>(*default_inbox_id)) : arg_null(INT4OID)});
    std::map<std::pair<std::string, std::int64_t>, ContactJob*> by_party;
    for (ContactJob* j : jobs) by_party[{j->tipo_entidade, j->entidade_id}] = j;
    for (auto& m : mapped) {
        auto it = by_party.find({m.text(0), m.int8(1)});
        if (it == by_party.end()) continue;
        core::ContactLink& link = it->second->link;
        link.contact_id = m.int8(2);
        link.owner = m.boolean(3);
        link.removed = m.boolean(4);
        link.has_contact_inbox = m.boolean(5);
        link.last_sent = {m.boolean(6), m.boolean(7), m.boolean(8)};
        if (m[9]) {
            link.others_active = true;
            link.successor = core::PartyRef{*m[9], m.int8(10)};
        }
    }
}

}  // namespace

void load_parties(std::vector<ContactJob*>& jobs, std::optional<std::int64_t> default_inbox_id) {
    std::map<std::string, std::vector<ContactJob*>> by_kind;
    for (ContactJob* j : jobs) by_kind[j->tipo_entidade].push_back(j);
    for (auto& [kind, kind_jobs] : by_kind) read_rows(kind, kind_jobs);
    read_links(jobs, default_inbox_id);
}

}  // namespace chatwoot::pg
