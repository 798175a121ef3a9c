#!/usr/bin/env bash
# Starts a local SQL Server 2022 in Docker - the same pinned image the integration tests use - and prints
# the two exports to use it:
#   eval "$(scripts/start-sqlserver.sh)"
#   DBMERGE_CONNECTION      the database DbMerge deploys to (created here), for dbmerge migrate/status/...
#   DBMERGE_TEST_SQLSERVER  the server, for dotnet test tests/DbMerge.IntegrationTests (it creates its own databases)
# Options (environment): DBMERGE_SQLSERVER_CONTAINER (default dbmerge-sqlserver), DBMERGE_SQLSERVER_PORT
# (default 14333, bound to 127.0.0.1 only), DBMERGE_DATABASE (default DbMerge).
# The SA password is generated; it is printed only inside the export lines on stdout. Stop with:
#   docker rm -f dbmerge-sqlserver
set -euo pipefail

# Keep equal to SqlServerFixture.SqlServerImage (tests/DbMerge.IntegrationTests/Infrastructure/SqlServerFixture.cs).
readonly IMAGE="mcr.microsoft.com/mssql/server:2022-CU14-ubuntu-22.04"
readonly NAME="${DBMERGE_SQLSERVER_CONTAINER:-dbmerge-sqlserver}"
readonly PORT="${DBMERGE_SQLSERVER_PORT:-14333}"
readonly DATABASE="${DBMERGE_DATABASE:-DbMerge}"

die() { echo "start-sqlserver.sh: $*" >&2; exit 1; }
say() { echo "start-sqlserver.sh: $*" >&2; }

command -v docker >/dev/null 2>&1 ||
  die "docker is not installed (not on PATH). Install Docker, or set DBMERGE_TEST_SQLSERVER / DBMERGE_CONNECTION to an existing SQL Server instead."
docker info >/dev/null 2>&1 ||
  die "docker is installed but its daemon is not reachable ('docker info' failed). Start Docker (or fix DOCKER_HOST) and run this again."
[[ "$DATABASE" =~ ^[A-Za-z][A-Za-z0-9_]{0,100}$ ]] ||
  die "DBMERGE_DATABASE='$DATABASE' is not a plain database name (letters, digits, underscore)."
if docker ps -a --format '{{.Names}}' | grep -qx "$NAME"; then
  die "a container named '$NAME' already exists. Remove it (docker rm -f $NAME) or set DBMERGE_SQLSERVER_CONTAINER to another name."
fi

# 3 of 4 character classes, as SQL Server's password policy requires.
PASSWORD="Dbm-$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20)-7q"
export MSSQL_SA_PASSWORD="$PASSWORD"   # passed by name below, so it never appears on a command line

say "starting $IMAGE as '$NAME' on 127.0.0.1:$PORT (the first run pulls the image, ~1.5 GB)..."
docker run -d --name "$NAME" -e ACCEPT_EULA=Y -e MSSQL_SA_PASSWORD -p "127.0.0.1:$PORT:1433" "$IMAGE" >/dev/null ||
  die "docker run failed (see above)."

# sqlcmd inside the container: mssql-tools18 (needs -C for the self-signed certificate) or the older mssql-tools.
container_sqlcmd() {
  docker exec "$NAME" /bin/bash -c '
    if [ -x /opt/mssql-tools18/bin/sqlcmd ]; then s="/opt/mssql-tools18/bin/sqlcmd -C"; else s=/opt/mssql-tools/bin/sqlcmd; fi
    SQLCMDPASSWORD="$MSSQL_SA_PASSWORD" exec $s -b -S localhost -U sa -Q "$0"' "$1"
}

say "waiting for SQL Server to accept logins (up to 120 s)..."
ready=""
for _ in $(seq 1 60); do
  if container_sqlcmd "SET NOCOUNT ON; SELECT 1;" >/dev/null 2>&1; then ready=yes; break; fi
  if [ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" != "true" ]; then
    docker logs --tail 20 "$NAME" >&2 || true
    die "the container '$NAME' stopped while starting (its last log lines are above)."
  fi
  sleep 2
done
[ -n "$ready" ] || die "SQL Server in '$NAME' did not accept logins within 120 s; see: docker logs $NAME"

container_sqlcmd "IF DB_ID(N'$DATABASE') IS NULL CREATE DATABASE [$DATABASE];" >/dev/null ||
  die "could not create database $DATABASE (see above)."

say "ready. Run: eval \"\$(scripts/start-sqlserver.sh)\" - or copy the two lines below."
echo "export DBMERGE_CONNECTION='Server=127.0.0.1,$PORT;Database=$DATABASE;User Id=sa;Password=$PASSWORD;TrustServerCertificate=true'"
echo "export DBMERGE_TEST_SQLSERVER='Server=127.0.0.1,$PORT;User Id=sa;Password=$PASSWORD;TrustServerCertificate=true'"
