#!/usr/bin/env bash
# Provision and run a PostgreSQL 17 server with the lake's extensions, for development and CI,
# with pgBackRest backing its cluster up (stanza `lake`, WAL archived for point-in-time recovery).
#
#   scripts/postgres-server.sh start    install if needed, init if needed, configure pgBackRest, start;
#                                       prints DATABASE_URL
#   scripts/postgres-server.sh stop     stop the server (data kept)
#   scripts/postgres-server.sh status   exit 0 when running
#   scripts/postgres-server.sh url      print the DATABASE_URL of the server
#   scripts/postgres-server.sh pgbackrest ARGS...
#                                       run pgBackRest as the postgres user in the server's file
#                                       system, ARGS passed through (e.g. `info --stanza=lake`); what
#                                       LAKE_PGBACKREST is set to: "bash <repo>/scripts/postgres-server.sh pgbackrest"
#   scripts/postgres-server.sh root     print the server's root file system as seen from here
#                                       (empty on Debian 13), to reach the paths below
#   scripts/postgres-server.sh start-restored DIR PORT
#                                       start a second server on DIR, a data directory made by
#                                       `pgbackrest restore` (a path in the server's file system,
#                                       /var/lib/postgresql/restore-NAME), on 127.0.0.1:PORT, with
#                                       archiving off; waits until recovery has ended (promoted)
#                                       and prints its URL
#   scripts/postgres-server.sh stop-restored DIR
#                                       stop that server (immediate: it is a throw-away copy)
#   scripts/postgres-server.sh remove-restored DIR
#                                       stop it if running and delete DIR and its log
#   scripts/postgres-server.sh url-restored PORT
#                                       print the URL of the restored server on PORT
#
# Debian 13 installs the packages natively. Debian 12 has no PostgreSQL 17 with pgvector and
# TimescaleDB, so there the script builds a Debian 13 root file system with debootstrap outside the
# repository and runs the server inside it (see shared/docs/platform-notes.md). Idempotent: every
# step is skipped when its result is already there.
#
# pgBackRest (in the server's file system): /etc/pgbackrest/pgbackrest.conf, regenerated on every
# start, holds the stanza `lake` (the cluster's data directory and port), the repository
# /var/lib/pgbackrest-lake (zstd, encrypted with aes-256-cbc, two full backups kept with their
# differential and incremental ones and the WAL they need), process-max 2 and start-fast. The
# server archives WAL through `pgbackrest archive-push` (archive_mode on, archive_timeout 5 min);
# the stanza is created once, and `pgbackrest check` runs on every start.
#
# Environment:
#   LAKE_PG_PORT      port on 127.0.0.1 (default 54317, never 5432)
#   LAKE_PG_HOME      where the root file system / cluster live (default /var/lib/datapunk-lake)
#   LAKE_PG_PASSWORD  password of the `lake` superuser (default: generated once, kept in LAKE_PG_HOME)
#   LAKE_PG_BACKUP_PASSPHRASE
#                     passphrase the pgBackRest repository is encrypted with (default: generated
#                     once, kept in LAKE_PG_HOME/backup-passphrase); it cannot change once the
#                     stanza exists: the repository could no longer be read
set -euo pipefail

PORT="${LAKE_PG_PORT:-54317}"
HOME_DIR="${LAKE_PG_HOME:-/var/lib/datapunk-lake}"
PACKAGES="postgresql-17 postgresql-17-pgvector postgresql-17-postgis-3 postgresql-17-timescaledb \
postgresql-17-cron postgresql-17-partman pgbackrest"
PGBIN=/usr/lib/postgresql/17/bin
# Inside the server's file system (the chroot on Debian 12, / on Debian 13).
PGDATA_IN=/var/lib/postgresql/lake-17
LOG_IN=/var/lib/postgresql/lake-17.log
STANZA=lake
REPO_IN=/var/lib/pgbackrest-lake
PGBACKREST_CONF_IN=/etc/pgbackrest/pgbackrest.conf

log() { printf 'postgres-server: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and switches to the postgres user)"
debian_major=$(cut -d. -f1 /etc/debian_version)
case "$debian_major" in
  13|trixie*) MODE=native; ROOT="" ;;
  12|bookworm*) MODE=chroot; ROOT="$HOME_DIR/trixie-root" ;;
  *) die "unsupported Debian release $(cat /etc/debian_version): need 12 or 13" ;;
esac

# Run a command as the postgres user inside the server's file system.
as_postgres() {
  if [ "$MODE" = chroot ]; then
    chroot "$ROOT" /usr/sbin/runuser -u postgres -- "$@"
  else
    runuser -u postgres -- "$@"
  fi
}

# Run a command as root inside the server's file system.
in_root() { if [ "$MODE" = chroot ]; then chroot "$ROOT" "$@"; else "$@"; fi; }

mount_chroot() {
  [ "$MODE" = chroot ] || return 0
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  mountpoint -q "$ROOT/dev/shm" || mount -t tmpfs -o size=2g tmpfs "$ROOT/dev/shm" 2>/dev/null || true
}

install_server() {
  if [ "$MODE" = native ]; then
    [ -x "$PGBIN/postgres" ] && [ -f /usr/share/postgresql/17/extension/timescaledb.control ] && [ -x /usr/bin/pgbackrest ] && return 0
    log "installing PostgreSQL 17 packages"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    return 0
  fi
  if [ -f "$ROOT/.lake-ready" ]; then
    mount_chroot
    # Roots made before pgBackRest joined the packages.
    if [ ! -x "$ROOT/usr/bin/pgbackrest" ]; then
      log "installing pgBackRest in $ROOT"
      chroot "$ROOT" apt-get update -qq
      chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbackrest >/dev/null
    fi
    return 0
  fi
  log "building a Debian 13 root file system in $ROOT (once; about 2 minutes)"
  command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap >/dev/null; }
  mkdir -p "$ROOT"
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    debootstrap --variant=minbase --include=ca-certificates trixie "$ROOT" http://deb.debian.org/debian >/dev/null
  fi
  mount_chroot
  chroot "$ROOT" apt-get update -qq
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
  touch "$ROOT/.lake-ready"
}

# The seed's settings (shared/docs/seed-architecture.md) were written for an 8 GB container; scale
# the memory ones to this machine so the server never takes more than its share.
write_settings() {
  local conf="$1" mem_mb shared cache maint
  mem_mb=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
  shared=$(( mem_mb / 4 )); [ $shared -gt 2048 ] && shared=2048       # seed: 2GB
  cache=$(( mem_mb * 3 / 4 )); [ $cache -gt 6144 ] && cache=6144      # seed: 6GB
  maint=$(( mem_mb / 16 )); [ $maint -gt 512 ] && maint=512           # seed: 512MB
  cat > "$conf" <<EOF
# Written by scripts/postgres-server.sh; regenerated on every start.
listen_addresses = '127.0.0.1'
port = $PORT
max_connections = 200
shared_buffers = ${shared}MB
effective_cache_size = ${cache}MB
maintenance_work_mem = ${maint}MB
wal_buffers = 16MB
default_statistics_target = 100
random_page_cost = 1.1
effective_io_concurrency = 200
work_mem = 16MB
min_wal_size = 1GB
max_wal_size = 4GB
shared_preload_libraries = 'timescaledb,pg_cron,pg_stat_statements'
cron.database_name = 'lake'
timescaledb.telemetry_level = off
pg_stat_statements.track = all
synchronous_commit = on
unix_socket_directories = '/var/run/postgresql'
# WAL archived into pgBackRest's repository for point-in-time recovery; a segment at least every
# 5 minutes while anything is written.
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --stanza=$STANZA archive-push %p'
archive_timeout = 300
EOF
}

backup_passphrase() {
  local file="$HOME_DIR/backup-passphrase"
  if [ -n "${LAKE_PG_BACKUP_PASSPHRASE:-}" ]; then printf '%s' "$LAKE_PG_BACKUP_PASSPHRASE"; return; fi
  mkdir -p "$HOME_DIR"
  [ -s "$file" ] || { (umask 077; head -c 48 /dev/urandom | base64 | tr -d '/+=\n' > "$file"); }
  cat "$file"
}

# pgBackRest's configuration, readable by the postgres user only (it holds the passphrase).
write_pgbackrest_conf() {
  local pass conf="$ROOT$PGBACKREST_CONF_IN"
  pass=$(backup_passphrase)
  case "$pass" in *$'\n'*|'') die "LAKE_PG_BACKUP_PASSPHRASE must be one non-empty line" ;; esac
  in_root sh -c "mkdir -p /etc/pgbackrest $REPO_IN /var/log/pgbackrest /var/spool/pgbackrest \
    && chown postgres:postgres /etc/pgbackrest $REPO_IN /var/log/pgbackrest /var/spool/pgbackrest \
    && chmod 750 $REPO_IN"
  (umask 077; cat > "$conf.new" <<EOF
# Written by scripts/postgres-server.sh; regenerated on every start.
[global]
repo1-path=$REPO_IN
repo1-retention-full=2
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$pass
repo1-bundle=y
repo1-block=y
compress-type=zst
compress-level=3
process-max=2
start-fast=y
log-level-console=warn
log-level-stderr=warn
log-level-file=info

[$STANZA]
pg1-path=$PGDATA_IN
pg1-port=$PORT
pg1-socket-path=/var/run/postgresql
pg1-user=lake
EOF
  )
  mv "$conf.new" "$conf"
  in_root chown postgres:postgres "$PGBACKREST_CONF_IN"
}

# The stanza once (stanza-create is idempotent, but it is skipped when the repository knows it),
# then a check that WAL reaches the repository.
setup_stanza() {
  if [ ! -f "$ROOT$REPO_IN/backup/$STANZA/backup.info" ]; then
    log "creating the pgBackRest stanza $STANZA in $REPO_IN"
    as_postgres pgbackrest --stanza="$STANZA" stanza-create >&2 || die "pgbackrest stanza-create failed"
  fi
  as_postgres pgbackrest --stanza="$STANZA" check >&2 \
    || die "pgbackrest check failed: WAL does not reach the repository (log: $ROOT/var/log/pgbackrest)"
}

password() {
  local file="$HOME_DIR/password"
  if [ -n "${LAKE_PG_PASSWORD:-}" ]; then printf '%s' "$LAKE_PG_PASSWORD"; return; fi
  mkdir -p "$HOME_DIR"
  [ -s "$file" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$file"; chmod 600 "$file"; }
  cat "$file"
}

url() { printf 'postgres://lake:%s@127.0.0.1:%s/lake\n' "$(password)" "$PORT"; }

running() { as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_IN" status >/dev/null 2>&1; }

start() {
  install_server
  mount_chroot
  local data="$ROOT$PGDATA_IN" pw
  pw=$(password)
  in_root sh -c 'mkdir -p /var/run/postgresql && chown postgres:postgres /var/run/postgresql'
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising a cluster in $data"
    local pwfile_in=/tmp/lake-pw
    printf '%s\n' "$pw" > "$ROOT$pwfile_in"; chmod 644 "$ROOT$pwfile_in"
    as_postgres "$PGBIN/initdb" -D "$PGDATA_IN" -U lake --pwfile="$pwfile_in" --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$ROOT$pwfile_in"
  fi
  write_settings "$data/lake.conf"
  in_root chown postgres:postgres "$PGDATA_IN/lake.conf"
  grep -q "^include 'lake.conf'" "$data/postgresql.conf" || echo "include 'lake.conf'" >> "$data/postgresql.conf"
  write_pgbackrest_conf
  if running && [ "$(psql_admin -tAc 'SHOW archive_mode')" != on ]; then
    # archive_mode takes a restart: a server started before archiving was configured.
    log "restarting to turn WAL archiving on"
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_IN" -m fast -w stop >/dev/null
  fi
  if ! running; then
    log "starting on 127.0.0.1:$PORT"
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_IN" -l "$LOG_IN" -w -t 60 start >/dev/null \
      || { tail -n 20 "$ROOT$LOG_IN" >&2; die "server did not start (log: $ROOT$LOG_IN)"; }
  else
    psql_admin -tAc 'SELECT pg_reload_conf()' >/dev/null
  fi
  # The lake's own database; pg_cron runs its jobs there (cron.database_name).
  psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'lake'" | grep -q 1 \
    || as_postgres "$PGBIN/createdb" -h /var/run/postgresql -p "$PORT" -U lake lake
  setup_stanza
  url
}

psql_admin() { as_postgres "$PGBIN/psql" -h /var/run/postgresql -p "$PORT" -U lake -d postgres -X "$@"; }

stop() {
  if running; then as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_IN" -m fast -w stop >/dev/null; log "stopped"; fi
}

# A data directory restored by pgBackRest: /var/lib/postgresql/restore-NAME, so that these
# subcommands (remove-restored deletes it) never reach the lake's own cluster.
restored_dir() {
  local dir="${1:-}"
  dir="${dir%/}"
  [[ "$dir" =~ ^/var/lib/postgresql/restore-[A-Za-z0-9_.-]+$ ]] && [[ "$dir" != *..* ]] \
    || die "a restored data directory is /var/lib/postgresql/restore-NAME (NAME of letters, digits, _ . -), not '$dir'"
  printf '%s' "$dir"
}

restored_port() {
  local port="${1:-}"
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1024 ] && [ "$port" -le 65535 ] || die "port must be 1024-65535, not '$port'"
  [ "$port" != "$PORT" ] || die "port $port is the lake's own server"
  printf '%s' "$port"
}

# The copy starts with the settings restored with it (lake.conf), but on its own port, without
# archiving (its WAL must never reach the lake's stanza), without pg_cron jobs, and small.
start_restored() {
  local dir port
  dir=$(restored_dir "${1:-}"); port=$(restored_port "${2:-}")
  [ -f "$ROOT$dir/PG_VERSION" ] || die "$dir holds no restored cluster"
  in_root sh -c 'mkdir -p /var/run/postgresql && chown postgres:postgres /var/run/postgresql'
  if as_postgres "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then url_restored "$port"; return 0; fi
  as_postgres "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" -w -t 300 \
    -o "-p $port -c archive_mode=off -c archive_command=/bin/true -c shared_buffers=128MB -c cron.database_name=postgres" \
    start >/dev/null || { tail -n 20 "$ROOT$dir.log" >&2; die "restored server did not start (log: $ROOT$dir.log)"; }
  # It accepts connections once consistent, while still replaying WAL towards its target: wait
  # for the promotion that ends recovery (or for the failure that ends the server).
  local waited=0 state
  while :; do
    state=$(as_postgres "$PGBIN/psql" -h /var/run/postgresql -p "$port" -U lake -d postgres -X -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null || true)
    [ "$state" = f ] && break
    if ! as_postgres "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      tail -n 20 "$ROOT$dir.log" >&2; die "restored server stopped during recovery (log: $ROOT$dir.log)"
    fi
    [ $waited -lt 3000 ] || die "restored server still in recovery after 300 s (log: $ROOT$dir.log)"
    sleep 0.1; waited=$((waited + 1))
  done
  url_restored "$port"
}

stop_restored() {
  local dir
  dir=$(restored_dir "${1:-}")
  if as_postgres "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_postgres "$PGBIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null
  fi
}

remove_restored() {
  local dir
  dir=$(restored_dir "${1:-}")
  [ -e "$ROOT$dir/PG_VERSION" ] && stop_restored "$dir"
  rm -rf -- "${ROOT:?}$dir" "$ROOT$dir.log"
}

url_restored() { printf 'postgres://lake:%s@127.0.0.1:%s/lake\n' "$(password)" "$(restored_port "${1:-}")"; }

ready() { [ "$MODE" = native ] || [ -f "$ROOT/.lake-ready" ]; }

case "${1:-}" in
  start) start ;;
  stop) ready || exit 0; mount_chroot; stop ;;
  status) ready || exit 1; mount_chroot; running ;;
  url) url ;;
  pgbackrest)
    shift; ready || die "the server is not installed: run $0 start"; mount_chroot
    [ -x "$ROOT/usr/bin/pgbackrest" ] || die "pgBackRest is not installed: run $0 start"
    as_postgres /usr/bin/pgbackrest "$@" ;;
  root) printf '%s\n' "$ROOT" ;;
  start-restored) ready || die "the server is not installed: run $0 start"; mount_chroot; start_restored "${2:-}" "${3:-}" ;;
  stop-restored) ready || exit 0; mount_chroot; stop_restored "${2:-}" ;;
  remove-restored) ready || exit 0; mount_chroot; remove_restored "${2:-}" ;;
  url-restored) url_restored "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|url|root|pgbackrest ARGS...|start-restored DIR PORT|stop-restored DIR|remove-restored DIR|url-restored PORT" >&2; exit 2 ;;
esac
