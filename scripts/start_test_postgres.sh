#!/usr/bin/env bash
# Start Debian's PostgreSQL 15 cluster and make a throwaway PostGIS database for the store tests.
# Prints the connection URL on its last line. Used by .ci/run; needs root (it runs the server as postgres).
set -euo pipefail
DB=${SAFETYMAP_TEST_PG_DB:-safetymap_test}
pg_ctlcluster 15 main start 2>/dev/null || true
for _ in $(seq 1 30); do
  if su postgres -c "pg_isready -q -h 127.0.0.1 -p 5432"; then break; fi
  sleep 1
done
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
DROP DATABASE IF EXISTS $DB;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'safetymap') THEN
    CREATE ROLE safetymap LOGIN PASSWORD 'safetymap' CREATEDB;
  END IF;
END \$\$;
CREATE DATABASE $DB OWNER safetymap;
\c $DB
CREATE EXTENSION postgis;
SQL
echo "postgresql://safetymap:safetymap@127.0.0.1:5432/$DB"
