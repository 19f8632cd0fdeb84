#!/usr/bin/env bash
# Monitoring (issue 18): Debian's prometheus-postgres-exporter, the real binary, runs
# docs/monitoring/queries.yaml as a role that is only a member of pg_monitor against a
# cluster with work of every kind: synced jobs, a dead letter, 429s, a paused
# integration with pending jobs and undrained changes behind it. Each value scraped
# from /metrics equals what the extension's views and functions say at that moment
# (ages: between the values read just before and just after the scrape), and the
# request counters equal what the simulator saw. The alert rules pass promtool's check
# and unit tests, and every metric the alerts and the dashboard use is one the exporter
# exports. MON_QUERIES overrides the queries file (to see a wrong query fail a check).
source "$(dirname "$0")/../lib/integration.sh"
EXPORTER=$(command -v prometheus-postgres-exporter) || skip_all "prometheus-postgres-exporter is not installed (scripts/install-deps.sh)"
PROMTOOL=$(command -v promtool) || skip_all "promtool is not installed (package prometheus, scripts/install-deps.sh)"
plan 22

QUERIES="${MON_QUERIES:-$ROOT/docs/monitoring/queries.yaml}"
EXP_PID=""
exporter_stop() {
  [ -n "$EXP_PID" ] && kill "$EXP_PID" 2>/dev/null && wait "$EXP_PID" 2>/dev/null
  EXP_PID=""
}
trap 'exporter_stop; it_cleanup' EXIT

# A 2 s budget window: a 429 waits for the next window, not a minute.
it_zattar mon "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'"
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => 500, janela_limite_s => 2)" >/dev/null
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
clients() { q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', '$1 ' || g FROM generate_series(1, $2) g" >/dev/null; }
dead() { q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'"; }

# Work of every kind: synced jobs; 429s (sent again in the next window); a dead letter
# (a 400 is final); then a 401 about the account pauses the integration, and what
# comes after waits: a pending job and changes the paused worker does not drain.
clients Sincronizado 5
sim_faults '{"throttle_next": 3}' >/dev/null
clients Limitado 2
eventually 60 "synced jobs and 429s: the queue drains" queue_drained
echo "# drained after $SECONDS s"
sim_faults '{"reply": {"status": 400, "content_type": "application/json", "body": "{\"message\":\"recusado\"}", "path_regex": "/contacts/filter$", "count": 1}}' >/dev/null
clients Morto 1
eventually_eq 30 "a 400 makes a dead letter" 1 dead
sim_faults '{"reply": {"status": 401, "content_type": "application/json", "body": "{\"error\":\"Account is suspended\"}", "path_regex": "/contacts", "count": 1}}' >/dev/null
clients Pausado 1
eventually_eq 30 "a 401 about the account pauses the integration (worker_status: paused until the connection changes)" infinity \
  q zattar "SELECT pausado_ate FROM chatwoot.worker_status() WHERE processo = 'worker'"
echo "# paused after $SECONDS s"
clients Esperando 2
q zattar "SELECT chatwoot.sincronizar_parte('cliente', min(id)) FROM clientes" >/dev/null

# The monitoring role: pg_monitor and nothing else.
q zattar "CREATE ROLE chatwoot_monitor LOGIN IN ROLE pg_monitor" >/dev/null
denied=$(qe zattar "SET ROLE chatwoot_monitor; SELECT api_key FROM chatwoot.integracoes")
check "the monitoring role cannot read the key: $denied" grep -q 'permission denied' <<<"$denied"

EXP_PORT=$(free_port)
DATA_SOURCE_NAME="postgresql://chatwoot_monitor@127.0.0.1:$IT_PORT/zattar?sslmode=disable" \
  "$EXPORTER" --web.listen-address="127.0.0.1:$EXP_PORT" --extend.query-path="$QUERIES" \
  --disable-default-metrics --disable-settings-metrics >"$IT_WORK/exporter.log" 2>&1 &
EXP_PID=$!
[ -n "${WORK:-}" ] && echo "$EXP_PID" >> "$WORK/exporter.pids"  # test/run.sh stops it should this script be killed
scrape() { curl -sf --max-time 20 "http://127.0.0.1:$EXP_PORT/metrics"; }
eventually 30 "the exporter serves /metrics with chatwoot_sync metrics" bash -c "curl -sf --max-time 5 http://127.0.0.1:$EXP_PORT/metrics | grep -q '^chatwoot_sync_'"
metrics=$(scrape)
echo "# scraped $(grep -c '^chatwoot_sync_' <<<"$metrics") chatwoot_sync_ series after $SECONDS s, e.g.:"
grep -E '^chatwoot_sync_(requests|worker)_' <<<"$metrics" | head -4 | sed 's/^/#   /'
check "it loaded the queries file and ran every query without an error" \
  test "$(grep -E '^pg_exporter_(user_queries_load_error|last_scrape_error)' <<<"$metrics" | awk '{s += $2} END {print NR ":" s}')" = "2:0"
grep -E '^pg_exporter_(user_queries_load_error|last_scrape_error)' <<<"$metrics" | sed 's/^/# /'
grep -i 'error' "$IT_WORK/exporter.log" | head -5 | sed 's/^/# exporter: /'

# name{labels} value -> one normalised line: the exporter's own `server` label dropped,
# labels sorted, the value printed with 3 decimals.
norm() {
  sed -E 's/(\{|,)server="[^"]*",?/\1/; s/,\}/}/; s/\{\}//' | awk '
    { v = $NF; $NF = ""; sub(/ +$/, "");
      name = $0; labels = "";
      if (match($0, /\{.*\}/)) { name = substr($0, 1, RSTART - 1); labels = substr($0, RSTART + 1, RLENGTH - 2) }
      n = split(labels, a, ","); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") a[i];
      printf "%s{%s} %.3f\n", name, s, v }' | sort
}
# family METRICS PREFIX: the normalised lines of the metrics whose name starts with PREFIX.
family() { grep -E "^$2[{ ]" <<<"$1" | norm; }
# same DESCRIPTION PREFIX SQL: the scrape's lines of a metric equal the lines SQL builds.
same() {
  local got expected
  got=$(family "$metrics" "$2")
  expected=$(q zattar "$3" | norm)
  if [ -n "$expected" ] && [ "$got" = "$expected" ]; then ok "$1"; return 0; fi
  not_ok "$1"
  diff <(echo "$expected") <(echo "$got") | sed 's/^/#   /' | head -20
  return 1
}
# A frozen moment for the equalities: the integration is paused, so nothing moves.
queue_sql="SELECT format('%s{kind=\"%s\",state=\"%s\"} %s', m, k.tipo, k.estado, CASE m WHEN 'chatwoot_sync_queue_jobs' THEN coalesce(r.quantidade, 0) ELSE coalesce(r.retentativas_agendadas, 0) END)
  FROM (SELECT e.estado, t.tipo FROM unnest('{pendente,processando,concluido,morto}'::text[]) e(estado)
        CROSS JOIN unnest('{upsert_contato,desativar_contato,lote}'::text[]) t(tipo)
        UNION SELECT 'pendente', 'mudanca' UNION SELECT estado, tipo FROM chatwoot.fila_resumo) k
  LEFT JOIN chatwoot.fila_resumo r USING (estado, tipo)
  CROSS JOIN unnest('{chatwoot_sync_queue_jobs,chatwoot_sync_queue_retries_scheduled}'::text[]) m"
same "queue by state and kind equals chatwoot.fila_resumo ($(q zattar "SELECT string_agg(estado || '/' || tipo || '=' || quantidade, ' ' ORDER BY 1) FROM chatwoot.fila_resumo"))" \
  'chatwoot_sync_queue_(jobs|retries_scheduled)' "$queue_sql"
same "dead letters and problems by origin equal chatwoot.erros_sincronizacao" 'chatwoot_sync_(dead_letters_jobs|problems_count)' \
  "SELECT format('chatwoot_sync_problems_count{origin=\"%s\"} %s', o, (SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = o))
     FROM unnest('{fila,campo,rastreamento,integracao}'::text[]) o
   UNION ALL SELECT format('chatwoot_sync_dead_letters_jobs %s', count(*)) FROM chatwoot.fila WHERE estado = 'morto'"
same "the drain estimate equals fila_resumo.tempo_estimado of the pending work" 'chatwoot_sync_queue_pending_drain_estimate_seconds' \
  "SELECT format('chatwoot_sync_queue_pending_drain_estimate_seconds %s', coalesce(extract(epoch FROM max(tempo_estimado) FILTER (WHERE estado = 'pendente')), 0)) FROM chatwoot.fila_resumo"
same "integrations: active, paused, budget equal chatwoot.integracoes_resumo" 'chatwoot_sync_integration_(active|paused|budget_limit|budget_window_seconds)' \
  "SELECT format('chatwoot_sync_integration_%s{integration=\"%s\",integration_id=\"%s\"} %s', m, nome, id, CASE m WHEN 'active' THEN ativo::int WHEN 'paused' THEN (pausada_em IS NOT NULL)::int WHEN 'budget_limit' THEN limite_requisicoes ELSE janela_limite_s END)
     FROM chatwoot.integracoes_resumo CROSS JOIN unnest('{active,paused,budget_limit,budget_window_seconds}'::text[]) m"
same "requests, 429s and the budget in force of the worker's integration equal chatwoot.requisicoes_chatwoot()" 'chatwoot_sync_requests_(sent_total|throttled_total|budget_in_force)' \
  "SELECT format('chatwoot_sync_requests_%s{integration=\"%s\",integration_id=\"%s\"} %s', m, i.nome, r.integracao_id,
                 CASE m WHEN 'sent_total' THEN r.requisicoes WHEN 'throttled_total' THEN r.respostas_429 ELSE r.limite_em_vigor END)
     FROM chatwoot.requisicoes_chatwoot() r JOIN chatwoot.integracoes i ON i.id = r.integracao_id
    CROSS JOIN unnest('{sent_total,throttled_total,budget_in_force}'::text[]) m"
echo "# budget in force $(q zattar "SELECT limite_em_vigor || ' of the configured ' || limite_requisicoes FROM chatwoot.integracoes_resumo WHERE requisicoes IS NOT NULL") (lower when 429s in two windows in a row taught the pacer a limit)"
same "the worker: up, jobs processed, in flight, sending paused equal chatwoot.worker_status()" 'chatwoot_sync_worker_(up|jobs_processed_total|in_flight|sending_paused)' \
  "SELECT format('chatwoot_sync_worker_%s{database=\"%s\"} %s', m, banco, CASE m WHEN 'up' THEN (pid IS NOT NULL)::int WHEN 'jobs_processed_total' THEN jobs_processados WHEN 'in_flight' THEN em_andamento ELSE (pausado_ate IS NOT NULL)::int END)
     FROM chatwoot.worker_status() CROSS JOIN unnest('{up,jobs_processed_total,in_flight,sending_paused}'::text[]) m WHERE processo = 'worker'"

# The counters are the worker's real requests: the simulator logged each (429s included).
log=$(requests_json)
sent=$(family "$metrics" chatwoot_sync_requests_sent_total | awk '{print $2 + 0}')
throttled=$(family "$metrics" chatwoot_sync_requests_throttled_total | awk '{print $2 + 0}')
check "requests sent ($sent) and 429s ($throttled) equal the simulator's log" \
  test "$sent|$throttled" = "$(jq 'length' <<<"$log")|$(jq '[.[] | select(.status == 429)] | length' <<<"$log")"
check "...and they are not nothing: requests, 3 or more 429s, a dead letter, a paused integration, pending work" \
  test "$((sent > 10))|$((throttled >= 3))|$(q zattar "SELECT count(*) FILTER (WHERE estado = 'morto') = 1 AND count(*) FILTER (WHERE estado = 'pendente') >= 2 FROM chatwoot.fila_resumo")|$(q zattar "SELECT count(*) FROM chatwoot.integracoes WHERE pausada_em IS NOT NULL")" = "1|1|t|1"

# Ages move with the clock, and the requests of the current clock window (2 s) start
# again with each window: the scraped value lies between the ones read just before and
# just after the scrape (tried again until a moment when the worker's cycle or the
# window did not move in between).
between() {  # between PREFIX SQL: SQL's value before <= the scrape's <= SQL's value after
  local before after got
  before=$(q zattar "$2"); got=$(scrape | grep -E "^$1[{ ]" | norm | awk '{print $2}'); after=$(q zattar "$2")
  echo "$before $got $after" > "$IT_WORK/between.last"
  [ -n "$got" ] && awk -v b="$before" -v g="$got" -v a="$after" 'BEGIN { exit !(b - 0.001 <= g && g <= a + 0.001) }'
}
moment_check() {
  if eventually 20 "$1" between "$2" "$3"; then echo "# before, scraped, after: $(cat "$IT_WORK/between.last")"
  else echo "#   last before, scraped, after: $(cat "$IT_WORK/between.last")"; fi
}
moment_check "the oldest pending job's age equals fila_resumo's" chatwoot_sync_queue_pending_oldest_age_seconds \
  "SELECT coalesce(extract(epoch FROM max(idade_pendente_mais_antigo)), 0) FROM chatwoot.fila_resumo"
moment_check "the worker's last cycle age equals worker_status().ultimo_ciclo_em's" chatwoot_sync_worker_last_cycle_age_seconds \
  "SELECT extract(epoch FROM clock_timestamp() - ultimo_ciclo_em) FROM chatwoot.worker_status() WHERE processo = 'worker'"
moment_check "the requests of the current clock window equal requisicoes_chatwoot().usadas_na_janela" chatwoot_sync_requests_used_in_window \
  "SELECT usadas_na_janela FROM chatwoot.requisicoes_chatwoot()"
moment_check "the integration's pause age equals integracoes.pausada_em's" chatwoot_sync_integration_paused_seconds \
  "SELECT extract(epoch FROM clock_timestamp() - pausada_em) FROM chatwoot.integracoes"

check "no secret in /metrics (key, webhook secret, URL)" bash -c "! grep -qF -e sim-admin-token -e '$SIM_URL' <<<\"\$1\"" _ "$metrics"

# The rules, and the names they and the dashboard use.
check "promtool check rules docs/monitoring/alerts.yml" \
  bash -c "'$PROMTOOL' check rules '$ROOT/docs/monitoring/alerts.yml' >'$IT_WORK/promtool.out' 2>&1 || { sed 's/^/# /' '$IT_WORK/promtool.out'; false; }"
check "promtool test rules docs/monitoring/alerts_test.yml (each alert fires, and stays silent when healthy)" \
  bash -c "cd '$ROOT/docs/monitoring' && '$PROMTOOL' test rules alerts_test.yml >'$IT_WORK/promtool.out' 2>&1 || { sed 's/^/# /' '$IT_WORK/promtool.out'; false; }"
exported=$(grep -oE '^chatwoot_sync_[a-z0-9_]+' <<<"$metrics" | sort -u)
used=$( { grep -oE 'chatwoot_sync_[a-z0-9_]+' "$ROOT/docs/monitoring/alerts.yml";
          jq -r '.. | strings' "$ROOT/docs/monitoring/grafana-dashboard.json" | grep -oE 'chatwoot_sync_[a-z0-9_]+'; } | sort -u)
missing=$(comm -23 <(echo "$used") <(echo "$exported") | tr '\n' ' ')
check "every metric the alerts and the dashboard use is exported ($(wc -l <<<"$used") names${missing:+; missing: $missing})" \
  test -z "$missing" -a -n "$used"

exporter_stop
exit $IT_FAILED
