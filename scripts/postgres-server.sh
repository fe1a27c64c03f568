#!/usr/bin/env bash
# Provision and run a PostgreSQL 17 server with the lake's extensions, for development and CI.
#
#   scripts/postgres-server.sh start    install if needed, init if needed, start; prints DATABASE_URL
#   scripts/postgres-server.sh stop     stop the server (data kept)
#   scripts/postgres-server.sh status   exit 0 when running
#   scripts/postgres-server.sh url      print the DATABASE_URL of the server
#
# Debian 13 installs the packages natively. Debian 12 has no PostgreSQL 17 with pgvector and
# TimescaleDB, so there the script builds a Debian 13 root file system with debootstrap outside the
# repository and runs the server inside it (see shared/docs/platform-notes.md). Idempotent: every
# step is skipped when its result is already there.
#
# Environment:
#   LAKE_PG_PORT      port on 127.0.0.1 (default 54317, never 5432)
#   LAKE_PG_HOME      where the root file system / cluster live (default /var/lib/datapunk-lake)
#   LAKE_PG_PASSWORD  password of the `lake` superuser (default: generated once, kept in LAKE_PG_HOME)
set -euo pipefail

PORT="${LAKE_PG_PORT:-54317}"
HOME_DIR="${LAKE_PG_HOME:-/var/lib/datapunk-lake}"
PACKAGES="postgresql-17 postgresql-17-pgvector postgresql-17-postgis-3 postgresql-17-timescaledb \
postgresql-17-cron postgresql-17-partman"
PGBIN=/usr/lib/postgresql/17/bin
# Inside the server's file system (the chroot on Debian 12, / on Debian 13).
PGDATA_IN=/var/lib/postgresql/lake-17
LOG_IN=/var/lib/postgresql/lake-17.log

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
    [ -x "$PGBIN/postgres" ] && [ -f /usr/share/postgresql/17/extension/timescaledb.control ] && return 0
    log "installing PostgreSQL 17 packages"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    return 0
  fi
  if [ -f "$ROOT/.lake-ready" ]; then mount_chroot; return 0; fi
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
EOF
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
  if ! running; then
    log "starting on 127.0.0.1:$PORT"
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_IN" -l "$LOG_IN" -w -t 60 start >/dev/null \
      || { tail -n 20 "$ROOT$LOG_IN" >&2; die "server did not start (log: $ROOT$LOG_IN)"; }
  fi
  # The lake's own database; pg_cron runs its jobs there (cron.database_name).
  as_postgres "$PGBIN/psql" -h /var/run/postgresql -p "$PORT" -U lake -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'lake'" | grep -q 1 \
    || as_postgres "$PGBIN/createdb" -h /var/run/postgresql -p "$PORT" -U lake lake
  url
}

stop() {
  if running; then as_postgres "$PGBIN/pg_ctl" -D "$PGDATA_IN" -m fast -w stop >/dev/null; log "stopped"; fi
}

case "${1:-}" in
  start) start ;;
  stop) [ "$MODE" = native ] || [ -f "$ROOT/.lake-ready" ] || exit 0; mount_chroot; stop ;;
  status) [ "$MODE" = native ] || [ -f "$ROOT/.lake-ready" ] || exit 1; mount_chroot; running ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
