#!/usr/bin/env bash
# Produces the DBA deploy script for a target database and, with --run, runs it with sqlcmd -b.
#
#   scripts/deploy.sh [--connection "Server=...;Database=...;..."] [--output FILE] [--run] [--offline]
#
# Target: --connection, else DBMERGE_CONNECTION. With a target the script holds only the migrations that
# database still lacks (plus every database/ script); --offline (or no target at all) writes the full,
# guarded script for any database. Default output: ./dbmerge-deploy-<UTC time>.sql.
# --run executes it with: sqlcmd -b -S <server> -d <database> [-U <user> | -E] [-C] -i FILE
# (sqlcmd from mssql-tools18 or go-sqlcmd on PATH; the password goes through SQLCMDPASSWORD, never argv).
# The connection string is parsed simply (key=value;...): values containing ';' are not supported for --run.
set -euo pipefail

die() { echo "deploy.sh: $*" >&2; exit 1; }
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
connection="${DBMERGE_CONNECTION:-}"
output="dbmerge-deploy-$(date -u +%Y%m%dT%H%M%SZ).sql"
run=""
offline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --connection|-c) [ $# -ge 2 ] || die "--connection needs a value"; connection="$2"; shift 2 ;;
    --output|-o) [ $# -ge 2 ] || die "--output needs a value"; output="$2"; shift 2 ;;
    --run) run=yes; shift ;;
    --offline) offline=yes; shift ;;
    -h|--help) usage ;;
    *) echo "deploy.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is not on PATH; it is needed to build the dbmerge runner."
[ -n "$run" ] && [ -z "$connection" ] && die "--run needs a target: pass --connection or set DBMERGE_CONNECTION."
if [ -n "$run" ]; then command -v sqlcmd >/dev/null 2>&1 || die "--run needs sqlcmd on PATH (mssql-tools18 or go-sqlcmd)."; fi

echo "deploy.sh: building the dbmerge runner..." >&2
dotnet build "$ROOT/src/DbMerge.Runner" -c Release -v quiet -nologo >&2 || die "building src/DbMerge.Runner failed (see above)."
dbmerge=(dotnet "$ROOT/src/DbMerge.Runner/bin/Release/net10.0/dbmerge.dll")

args=(script --output "$output" --repo "$ROOT")
if [ -n "$connection" ] && [ -z "$offline" ]; then args+=(--connection "$connection"); fi
"${dbmerge[@]}" "${args[@]}" >&2 || die "dbmerge script failed (exit $?); nothing was written or run."
echo "deploy.sh: wrote $output" >&2

[ -n "$run" ] || { echo "$output"; exit 0; }

# key=value;... -> sqlcmd arguments
server="" database="" user="" password="" trusted="" trust_cert=""
IFS=';' read -r -a pairs <<< "$connection"
for pair in "${pairs[@]}"; do
  [[ "$pair" == *=* ]] || continue
  key="$(echo "${pair%%=*}" | tr '[:upper:]' '[:lower:]' | tr -d ' ')"
  value="${pair#*=}"
  case "$key" in
    server|datasource|address|addr|networkaddress) server="${value#tcp:}" ;;
    database|initialcatalog) database="$value" ;;
    userid|uid|user) user="$value" ;;
    password|pwd) password="$value" ;;
    integratedsecurity|trusted_connection) case "$(echo "$value" | tr '[:upper:]' '[:lower:]')" in true|yes|sspi) trusted=yes ;; esac ;;
    trustservercertificate) case "$(echo "$value" | tr '[:upper:]' '[:lower:]')" in true|yes) trust_cert=yes ;; esac ;;
  esac
done
[ -n "$server" ] || die "the connection string names no Server / Data Source."
[ -n "$database" ] || die "the connection string names no Database / Initial Catalog; the deploy script must run in the target database."

sqlcmd_args=(-b -S "$server" -d "$database" -i "$output")
if [ -n "$user" ]; then sqlcmd_args+=(-U "$user"); export SQLCMDPASSWORD="$password"
elif [ -n "$trusted" ]; then sqlcmd_args+=(-E)
fi
[ -n "$trust_cert" ] && sqlcmd_args+=(-C)

echo "deploy.sh: running it with sqlcmd -b on $server/$database..." >&2
sqlcmd "${sqlcmd_args[@]}" || die "sqlcmd failed (exit $?): the failing migration was rolled back and nothing after it ran; fix the first error above and run again (already applied migrations are skipped)."
echo "deploy.sh: deployed $server/$database." >&2
