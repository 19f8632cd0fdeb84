# Private PostgreSQL clusters for tests and the demo (sourced, not run).
# A cluster lives in a temp dir owned by the postgres user, listens on 127.0.0.1
# and a Unix socket inside that dir, on a free port, and is stopped by cluster_stop_all.

PG_BINDIR="${PG_BINDIR:-$(pg_config --bindir)}"
declare -a CLUSTER_DIRS=()

as_postgres() { runuser -u postgres -- "$@"; }

free_port() {
  # Below the kernel's ephemeral range: a port there can be taken by any outgoing
  # connection (curl, psql) between this check and the server's bind.
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 1 200); do
    port=$(( 10000 + RANDOM % (low - 10000) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# cluster_init DIR PORT [extra postgresql.conf lines...]
cluster_init() {
  local dir="$1" port="$2"; shift 2
  mkdir -p "$dir"
  chown postgres:postgres "$dir"
  as_postgres "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  {
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir'"
    echo "shared_preload_libraries = 'chatwoot_sync'"
    echo "max_worker_processes = 16"
    echo "logging_collector = off"
    echo "log_line_prefix = '%m [%p] %b '"
    echo "wal_level = replica"
    echo "max_wal_senders = 4"
    echo "fsync = off"
    for line in "$@"; do echo "$line"; done
  } >> "$dir/data/postgresql.conf"
  echo "host replication postgres 127.0.0.1/32 trust" >> "$dir/data/pg_hba.conf"
}

# cluster_start DIR: starts (or restarts) the cluster whose data is DIR/data.
cluster_start() {
  local dir="$1"
  as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$dir/server.log" >&2; return 1; }
  local known=0
  for d in "${CLUSTER_DIRS[@]:-}"; do [ "$d" = "$dir" ] && known=1; done
  [ $known -eq 1 ] || CLUSTER_DIRS+=("$dir")
}

cluster_stop() {
  local dir="$1" mode="${2:-fast}"
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

cluster_stop_all() {
  for d in "${CLUSTER_DIRS[@]:-}"; do
    [ -n "$d" ] && cluster_stop "$d" immediate
  done
}

# cluster_wait_ready PORT [SECONDS]: waits until the server accepts connections.
cluster_wait_ready() {
  local port="$1" seconds="${2:-60}"
  for _ in $(seq 1 $((seconds * 10))); do
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" && return 0
    sleep 0.1
  done
  return 1
}
