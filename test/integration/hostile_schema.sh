#!/usr/bin/env bash
# What the app does to its own tables must neither fail its statements nor stop sync
# for other tables (../shared/review/security-probe-a030d9f.md, D4-D6, D12): a failed
# statement rolled back to a savepoint, the id column renamed or retyped, a mapped
# column renamed or dropped, a tracked table dropped with work pending, TRUNCATE (and
# RESTART IDENTITY, after which a new party must not inherit an old contact); and what
# stops capture is loud (../shared/review/security-probe-026355c.md 1.5, 1.8, 1.10,
# 1.11): a capture trigger disabled or dropped, the table attached as a partition, a
# rewrite re-queues every party, a drop-and-rebuild keeps the pending deactivations; and a
# tracked table moved to another schema while its enum stays in public keeps syncing (1.6).
source "$(dirname "$0")/../lib/integration.sh"
plan 51

it_zattar schema "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.max_attempts = 3" \
  "chatwoot_sync.update_debounce = '100ms'"
q zattar "CREATE ROLE app_zattar LOGIN; GRANT CREATE ON SCHEMA public TO app_zattar;
          ALTER TABLE clientes OWNER TO app_zattar; ALTER TABLE partes_contrarias OWNER TO app_zattar;
          ALTER TABLE terceiros OWNER TO app_zattar; ALTER TABLE contratos OWNER TO app_zattar;
          SELECT chatwoot.conceder_acesso_app('app_zattar');
          SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro'), chatwoot.sincronizar_app_para_chatwoot()" >/dev/null
qa() { psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d zattar -c "$1" 2>&1; }
contact_of() { q zattar "SELECT coalesce(chatwoot_contact_id::text, '-') FROM chatwoot.partes_chatwoot WHERE tipo_entidade = '$1' AND entidade_id = $2"; }
sim_contact() { sim_contacts | jq -c --argjson id "$1" '.[] | select(.id == $id) | {name, identifier, ativo: .custom_attributes.ativo}'; }
eventually 30 "the fixture's parties are synced" queue_drained

# --- a failed statement rolled back to a savepoint leaks nothing ------------------------------
# Client 1 has a contract: deleting it fails on the foreign key, after its row trigger ran.
out=$(psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d zattar 2>&1 <<'SQL'
BEGIN;
SAVEPOINT a;
DELETE FROM clientes WHERE id = 1;
ROLLBACK TO SAVEPOINT a;
UPDATE clientes SET nome = nome || ' (revisado)' WHERE id = 3;
COMMIT;
SQL
)
check "the app's DELETE is refused by its foreign key, and the transaction commits" \
  bash -c "grep -q 'violates foreign key' <<<\"\$1\" && ! grep -q 'ROLLBACK' <<<\"\$1\"" _ "$out"
eventually 15 "the UPDATE after the savepoint drains" queue_drained
check "no deactivation was queued for client 1, which still exists" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id = 1 AND tipo = 'desativar_contato'")" = 0
check "its mapping is neither removed nor unsynced" \
  test "$(q zattar "SELECT NOT removida AND sincronizado FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND entidade_id = 1")" = t
check "its contact stays active in Chatwoot" test "$(sim_contact "$(contact_of cliente 1)" | jq -r .ativo)" = true
# A subtransaction that aborts inside a statement (a function's exception block) takes
# only its own ids away, not those the statement recorded before it.
qa "CREATE FUNCTION public.revisa(t text) RETURNS text LANGUAGE plpgsql AS \$f\$
    BEGIN PERFORM 1 / 0; RETURN t; EXCEPTION WHEN division_by_zero THEN RETURN t || ' (revisado)'; END \$f\$" >/dev/null
before=$(q zattar "SELECT clock_timestamp()")
qa "UPDATE clientes SET nome = public.revisa(nome) WHERE id IN (1, 2, 3)" >/dev/null
q zattar "SELECT chatwoot.drenar_mudancas()" >/dev/null  # what the worker does next, done now
check "an UPDATE whose function aborts a subtransaction per row queues all three clients" \
  test "$(q zattar "SELECT count(DISTINCT entidade_id) FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id IN (1, 2, 3) AND atualizado_em >= '$before'")" = 3
eventually 15 "they drain" queue_drained
# The app's own trigger inserts into the same table in an exception block that aborts:
# the nested statement's end must not take the outer statement's ids with it.
qa "CREATE FUNCTION public.eco() RETURNS trigger LANGUAGE plpgsql AS \$f\$
    BEGIN
      IF NEW.nome LIKE 'Aninhado %' THEN
        BEGIN
          INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Eco de ' || NEW.nome);
          PERFORM 1 / 0;
        EXCEPTION WHEN division_by_zero THEN NULL;
        END;
      END IF;
      RETURN NEW;
    END \$f\$;
    CREATE TRIGGER eco AFTER INSERT ON clientes FOR EACH ROW EXECUTE FUNCTION public.eco()" >/dev/null
before=$(q zattar "SELECT clock_timestamp()")
qa "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Aninhado ' || g FROM generate_series(1, 3) g" >/dev/null
q zattar "SELECT chatwoot.drenar_mudancas()" >/dev/null
check "an INSERT whose own trigger's nested INSERT aborts still queues its three clients, and only them" \
  test "$(q zattar "SELECT count(*) FILTER (WHERE c.nome LIKE 'Aninhado %') || '|' || count(*) FILTER (WHERE c.nome IS NULL)
                    FROM chatwoot.fila f LEFT JOIN clientes c ON c.id = f.entidade_id
                   WHERE f.tipo_entidade = 'cliente' AND f.criado_em >= '$before'")" = "3|0"
qa "DROP TRIGGER eco ON clientes; DROP FUNCTION public.eco()" >/dev/null
eventually 15 "they drain" queue_drained

# --- the id column renamed: the app's statements still succeed --------------------------------
out=$(qa "ALTER TABLE partes_contrarias RENAME COLUMN id TO parte_id")
check "renaming the id column warns that the mapping no longer fits" grep -q 'WARNING' <<<"$out"
out=$(qa "INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Depois do rename'); UPDATE partes_contrarias SET nome = 'Depois do rename 2' WHERE nome = 'Depois do rename'; DELETE FROM partes_contrarias WHERE nome = 'Depois do rename 2'")
check "INSERT, UPDATE and DELETE on that table succeed (with a WARNING, no ERROR)" \
  bash -c "! grep -q 'ERROR' <<<\"\$1\" && grep -q 'WARNING' <<<\"\$1\"" _ "$out"
check "the problem is recorded in erros_sincronizacao" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = 'rastreamento' AND tipo_entidade = 'parte_contraria'")" = 1
qa "ALTER TABLE partes_contrarias RENAME COLUMN parte_id TO id" >/dev/null
check "renaming it back clears the problem" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = 'rastreamento'")" = 0

# --- a mapped column renamed, ativo dropped: only that kind fails, the others drain --------------
qa "ALTER TABLE terceiros RENAME COLUMN numero_celular TO celular; ALTER TABLE partes_contrarias DROP COLUMN ativo" >/dev/null
qa "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) VALUES ('pf', 'Terceiro quebrado', 'perito', 'neutro');
    INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Contraria quebrada');
    INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Cliente apesar de tudo')" >/dev/null
eventually_eq 20 "a new client is synced while the other two kinds are broken" t \
  q zattar "SELECT sincronizado FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Cliente apesar de tudo'"
eventually_eq 60 "each broken kind's job counts its attempts up to dead (max_attempts 3)" "morto|3|morto|3" \
  q zattar "SELECT string_agg(f.estado || '|' || f.tentativas, '|' ORDER BY f.tipo_entidade) FROM chatwoot.fila f
            WHERE (f.tipo_entidade, f.entidade_id) IN (SELECT 'terceiro', id FROM terceiros WHERE nome = 'Terceiro quebrado'
                                                       UNION ALL SELECT 'parte_contraria', id FROM partes_contrarias WHERE nome = 'Contraria quebrada')"
check "their errors name the missing columns" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = 'fila' AND (erro LIKE '%numero_celular%' OR erro LIKE '%\"ativo\"%')")" = 2
check "worker_status reports the mappings that no longer fit" \
  test "$(q zattar "SELECT avisos LIKE '%numero_celular%' AND avisos LIKE '%ativo%' FROM chatwoot.worker_status() WHERE processo = 'worker'")" = t
qa "ALTER TABLE terceiros RENAME COLUMN celular TO numero_celular; ALTER TABLE partes_contrarias ADD COLUMN ativo boolean NOT NULL DEFAULT true" >/dev/null
q zattar "SELECT chatwoot.reprocessar_falhas()" >/dev/null
eventually 30 "fixed and requeued, the dead jobs drain" queue_drained
check "nothing is dead any more" test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")" = 0

# --- a tracked table dropped with a job pending ----------------------------------------------
qa "CREATE TABLE testemunhas (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tipo_pessoa text, nome text NOT NULL)" >/dev/null
q zattar "SELECT chatwoot.rastrear('testemunhas', 'testemunha', '{\"emails\": null, \"ddd_celular\": null, \"numero_celular\": null, \"cpf\": null, \"cnpj\": null, \"ativo\": null}')" >/dev/null
q zattar "UPDATE chatwoot.integracoes SET ativo = false" >/dev/null   # hold the queue
qa "INSERT INTO testemunhas (tipo_pessoa, nome) VALUES ('pf', 'Testemunha A')" >/dev/null
out=$(qa "DROP TABLE testemunhas")
check "DROP TABLE of a tracked table with a job pending succeeds, saying tracking ended" grep -q 'terminou' <<<"$out"
check "its tracking is gone" test "$(q zattar "SELECT count(*) FROM chatwoot.rastreamentos WHERE tipo_entidade = 'testemunha'")" = 0
check "its pending job is a dead letter that says why" \
  test "$(q zattar "SELECT estado || '|' || (ultimo_erro LIKE '%DROP TABLE%') FROM chatwoot.fila WHERE tipo_entidade = 'testemunha'")" = "morto|true"
q zattar "UPDATE chatwoot.integracoes SET ativo = true" >/dev/null
qa "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Depois do drop')" >/dev/null
eventually 20 "the other tables' queue drains" queue_drained

# --- capture stopped by the app: a disabled or dropped capture trigger is loud ------------------
out=$(qa "ALTER TABLE clientes DISABLE TRIGGER USER")
check "DISABLE TRIGGER USER on a tracked table warns that capture stopped" grep -q 'WARNING.*desativado' <<<"$out"
check "it is recorded in erros_sincronizacao" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = 'rastreamento' AND tipo_entidade = 'cliente' AND erro LIKE '%desativado%'")" = 1
q zattar "SELECT chatwoot.sincronizar_parte('cliente', 2)" >/dev/null
eventually_eq 20 "that kind's job fails with the reason (the worker keeps the record)" "true|true" \
  q zattar "SELECT (SELECT ultimo_erro LIKE '%desativado%' FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id = 2 ORDER BY id DESC LIMIT 1)
                   || '|' || (SELECT erro IS NOT NULL FROM chatwoot.rastreamentos WHERE tipo_entidade = 'cliente')"
check "worker_status shows it" test "$(q zattar "SELECT avisos LIKE '%desativado%' FROM chatwoot.worker_status() WHERE processo = 'worker'")" = t
qa "ALTER TABLE clientes ENABLE TRIGGER USER" >/dev/null
check "ENABLE TRIGGER clears it" test "$(q zattar "SELECT count(*) FROM chatwoot.rastreamentos WHERE erro IS NOT NULL")" = 0
eventually 30 "the failed job is retried and drains" queue_drained
out=$(qa "DROP TRIGGER zz_chatwoot_sync_comando ON clientes")
check "DROP TRIGGER of a capture trigger warns and is recorded" \
  bash -c "grep -q 'WARNING.*removido' <<<\"\$1\" && [ \"\$(psql -X -A -t -q -h 127.0.0.1 -p $IT_PORT -U postgres -d zattar -c \"SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = 'rastreamento' AND erro LIKE '%zz_chatwoot_sync_comando%removido%'\")\" = 1 ]" _ "$out"
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
qa "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Depois do rastrear de novo')" >/dev/null
eventually_eq 20 "rastrear again restores capture and clears the record" "true|0" \
  q zattar "SELECT (SELECT sincronizado FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Depois do rastrear de novo')
                   || '|' || (SELECT count(*) FROM chatwoot.rastreamentos WHERE erro IS NOT NULL)"

# --- a tracked table attached as a partition -------------------------------------------------
out=$(qa "CREATE TABLE terceiros_todos (LIKE terceiros) PARTITION BY LIST (polo);
          ALTER TABLE terceiros_todos ATTACH PARTITION terceiros DEFAULT")
check "ATTACH PARTITION of a tracked table warns (the ALTER names the partitioned table)" grep -q 'WARNING.*partição' <<<"$out"
check "it is recorded in erros_sincronizacao" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = 'rastreamento' AND tipo_entidade = 'terceiro' AND erro LIKE '%partição de public.terceiros_todos%'")" = 1
out=$(qe zattar "SELECT chatwoot.rastrear('terceiros', 'terceiro')")
check "rastrear refuses a partition" grep -q 'ERROR.*partição' <<<"$out"
qa "ALTER TABLE terceiros_todos DETACH PARTITION terceiros; DROP TABLE terceiros_todos" >/dev/null
check "DETACH clears it" test "$(q zattar "SELECT count(*) FROM chatwoot.rastreamentos WHERE erro IS NOT NULL")" = 0

# --- a rewrite changes every row without a trigger: every party is queued again ----------------
eventually 20 "the queue is empty before the rewrite" queue_drained
qa "ALTER TABLE clientes ALTER COLUMN nome TYPE varchar(400) USING upper(nome)" >/dev/null
eventually_eq 30 "after ALTER COLUMN ... TYPE ... USING upper(nome), every client's contact has the upper-case name" 0 \
  bash -c "n=0; while IFS='|' read -r nome contato; do
             [ \"\$(curl -sf \"$SIM_CONTROL/__sim/accounts/1/contacts\" | jq -r --argjson id \"\$contato\" '.[] | select(.id == \$id) | .name')\" = \"\$nome\" ] || n=\$((n + 1))
           done < <(psql -X -A -t -q -h 127.0.0.1 -p $IT_PORT -U postgres -d zattar -c \"SELECT c.nome, p.chatwoot_contact_id FROM clientes c JOIN chatwoot.partes_chatwoot p ON p.tipo_entidade = 'cliente' AND p.entidade_id = c.id WHERE c.ativo\"); echo \$n"

# --- a drop-and-rebuild migration keeps the pending deactivations -------------------------------
qa "CREATE TABLE peritos (id bigint PRIMARY KEY, tipo_pessoa text, nome text NOT NULL)" >/dev/null
q zattar "SELECT chatwoot.rastrear('peritos', 'perito', '{\"emails\": null, \"ddd_celular\": null, \"numero_celular\": null, \"cpf\": null, \"cnpj\": null, \"ativo\": null}')" >/dev/null
qa "INSERT INTO peritos VALUES (1, 'pf', 'Perito Apagado'), (2, 'pf', 'Perito Mudado')" >/dev/null
eventually 20 "two experts are synced" queue_drained
gone=$(q zattar "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'perito' AND entidade_id = 1")
q zattar "UPDATE chatwoot.integracoes SET ativo = false" >/dev/null   # hold the queue
qa "DELETE FROM peritos WHERE id = 1; UPDATE peritos SET nome = 'Perito Mudado 2' WHERE id = 2" >/dev/null
out=$(qa "CREATE TABLE peritos_novo AS SELECT * FROM peritos; DROP TABLE peritos; ALTER TABLE peritos_novo RENAME TO peritos")
check "the rebuild's DROP TABLE warns that tracking ended" grep -q 'terminou' <<<"$out"
check "the pending erasure stays pending, the update became a dead letter" \
  test "$(q zattar "SELECT string_agg(tipo || ':' || estado, ',' ORDER BY entidade_id) FROM chatwoot.fila WHERE tipo_entidade = 'perito' AND estado <> 'concluido'")" = "desativar_contato:pendente,upsert_contato:morto"
q zattar "UPDATE chatwoot.integracoes SET ativo = true" >/dev/null
eventually 20 "the queue drains" queue_drained
check "the deleted expert's contact $gone is released and inactive in Chatwoot" \
  test "$(sim_contact "$gone" | jq -r '(.identifier | test("-removido-") | tostring) + "|" + (.ativo | tostring)')" = "true|false"

# --- TRUNCATE, and TRUNCATE ... RESTART IDENTITY -------------------------------------------------
qa "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo, emails) VALUES ('pf', 'Perito Um', 'perito', 'neutro', '[\"perito1@example.com\"]')" >/dev/null
eventually 15 "a third party is synced" queue_drained
old=$(q zattar "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot p JOIN terceiros t ON t.id = p.entidade_id AND p.tipo_entidade = 'terceiro' WHERE t.nome = 'Perito Um'")
mapped_before=$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'terceiro' AND chatwoot_contact_id IS NOT NULL")
check "the app's TRUNCATE ... RESTART IDENTITY of a tracked table succeeds" qa "TRUNCATE terceiros RESTART IDENTITY"
qa "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo, emails) VALUES ('pf', 'Pessoa Totalmente Diferente', 'perito', 'neutro', '[\"outra@example.com\"]')" >/dev/null
eventually 20 "the truncate and the new party drain" queue_drained
check "every third party's contact was deactivated, as a DELETE of each would ($mapped_before mapped before)" \
  test "$(sim_contacts | jq '[.[] | select((.identifier // "") | test("^zattar_terceiro_[0-9]+-removido-")) | select(.custom_attributes.ativo == false)] | length')" = "$mapped_before"
check "the old contact $old kept its person's name and lost the reused identifier" \
  test "$(sim_contact "$old" | jq -r '.name + "|" + (.identifier | test("-removido-") | tostring)')" = "Perito Um|true"
new=$(q zattar "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'terceiro' AND entidade_id = 1")
check "the new party with id 1 got a contact of its own ($new, not $old)" \
  test "$(sim_contact "$new" | jq -r '.name + "|" + .identifier')" = "Pessoa Totalmente Diferente|zattar_terceiro_1"

# --- a tracked table moved to another schema; its enum (a superuser's) stays in public -----------
q zattar "CREATE SCHEMA arquivo AUTHORIZATION app_zattar" >/dev/null
qa "ALTER TABLE terceiros SET SCHEMA arquivo" >/dev/null
t=$(qa "INSERT INTO arquivo.terceiros (tipo_pessoa, nome, tipo_parte, polo, emails) VALUES ('pj', 'Perito Arquivado', 'perito', 'neutro', '[\"arquivado@example.com\"]') RETURNING id")
has_contact() { [ "$(sim_contacts | jq --arg i "zattar_$1" '[.[] | select(.identifier == $i)] | length')" = 1 ]; }
eventually 20 "after ALTER TABLE terceiros SET SCHEMA arquivo, a third party inserted there syncs" has_contact "terceiro_${t:-0}"
check "and the move recorded no problem for the kind (its enum public.tipo_pessoa still fits)" \
  test "$(q zattar "SELECT coalesce(erro, 'none') FROM chatwoot.rastreamentos WHERE tipo_entidade = 'terceiro'")" = none
exit $IT_FAILED
