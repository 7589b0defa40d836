#!/bin/bash
# The entry point of deploy/local/postgres: on the first start (PGDATA
# empty) makes the cluster with the superuser $POSTGRES_USER (default
# postgres), its password from $POSTGRES_PASSWORD_FILE or
# $POSTGRES_PASSWORD, password (SCRAM) authentication over TCP, and the
# database $POSTGRES_DB (default: the user's name); then runs the command,
# `postgres` listening on all addresses.
set -euo pipefail

if [[ "${1:-}" == postgres && ! -s "$PGDATA/PG_VERSION" ]]; then
	user="${POSTGRES_USER:-postgres}"
	db="${POSTGRES_DB:-$user}"
	if [[ -n "${POSTGRES_PASSWORD_FILE:-}" ]]; then
		password="$(<"$POSTGRES_PASSWORD_FILE")"
	else
		password="${POSTGRES_PASSWORD:-}"
	fi
	[[ -n "$password" ]] || { echo "docker-entrypoint.sh: set POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD" >&2; exit 1; }
	initdb --username="$user" --pwfile=<(printf '%s\n' "$password") --auth-local=trust --auth-host=scram-sha-256 \
		--encoding=UTF8 --locale=C.UTF-8 >/dev/null
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	# Only the socket while the database is made.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	if [[ "$db" != postgres ]]; then
		psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -q \
			-c "CREATE DATABASE \"$db\" OWNER \"$user\""
	fi
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	echo "docker-entrypoint.sh: made the cluster in $PGDATA: user $user, database $db"
fi
if [[ "${1:-}" == postgres ]]; then
	shift
	exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
