#!/usr/bin/env bash
# The PostgreSQL server the tests of the pgvector RAG index use: PostgreSQL 15 (Debian bookworm) with pgvector
# (tools/install-pgvector.sh), the Debian cluster 15/main started on 127.0.0.1:5432 (loopback only), and a role and
# database `inference_mesh_test` (password `inference_mesh_test`, no superuser) with the extension created in it.
# The tests' default connection string matches (override: INFERENCE_MESH_TEST_POSTGRES). Run as root; idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pg_major=15
name=inference_mesh_test
log() { printf 'postgres: %s\n' "$*" >&2; }

ready_line="postgres: ready: Host=127.0.0.1;Port=5432;Database=$name;Username=$name;Password=$name"
# Already set up and running (e.g. a developer without root running .ci/run): nothing to do.
if command -v psql >/dev/null 2>&1 &&
   [ "$(PGPASSWORD="$name" PGCONNECT_TIMEOUT=3 psql -X -h 127.0.0.1 -p 5432 -U "$name" -d "$name" -tAc "SELECT 1 FROM pg_extension WHERE extname = 'vector'" 2>/dev/null)" = "1" ]; then
  echo "$ready_line"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "postgres: the test server is not ready and setting it up needs root (packages, cluster): sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s "postgresql-$pg_major" >/dev/null 2>&1; then
  log "installing postgresql-$pg_major"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "postgresql-$pg_major" >/dev/null
fi
PG_MAJOR="$pg_major" tools/install-pgvector.sh

if ! pg_lsclusters -h | awk -v v="$pg_major" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
  log "creating cluster $pg_major/main"
  pg_createcluster "$pg_major" main >/dev/null
fi
conf="/etc/postgresql/$pg_major/main/postgresql.conf"
# Loopback only, on the standard port (Debian's default already; made explicit so a changed default cannot widen it).
if ! grep -q "^listen_addresses = '127.0.0.1'" "$conf"; then
  printf "\n# tools/setup-test-postgres.sh: test server on loopback only\nlisten_addresses = '127.0.0.1'\nport = 5432\n" >>"$conf"
  pg_ctlcluster "$pg_major" main status >/dev/null 2>&1 && pg_ctlcluster "$pg_major" main restart
fi
if ! pg_ctlcluster "$pg_major" main status >/dev/null 2>&1; then
  log "starting cluster $pg_major/main"
  pg_ctlcluster "$pg_major" main start
fi

psql_admin() { PGOPTIONS='-c client_min_messages=warning' runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }
for _ in $(seq 1 50); do psql_admin -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$name'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $name LOGIN PASSWORD '$name'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $name OWNER $name"
fi
# pgvector 0.8.0 is not a trusted extension: a superuser creates it once, the test role then uses it.
psql_admin -d "$name" -c "CREATE EXTENSION IF NOT EXISTS vector"
echo "$ready_line"
