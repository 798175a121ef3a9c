#!/usr/bin/env bash
# Creates the next numbered migration and records its checksum.
#
#   scripts/new-migration.sh "verb object"       e.g. "add app Invitation OrganizationId"
#                                                  -> migrations/NNNN_add_app_Invitation_OrganizationId.sql
#   scripts/new-migration.sh --rehash NAME        re-records NAME's checksum after editing it - only while
#                                                  it is not yet on main / origin/main (refused otherwise)
#
# The new file gets the next four-digit number, a snake_case name (verb lower-case, object words kept) and
# the house header (Why / Locks). Its SHA-256 (sha256sum of the raw bytes - the value DbMerge's C# computes
# too) is appended to migrations/checksums.txt at once, so every edit before merge needs --rehash; after
# merge a migration is immutable: write the next one instead.
set -euo pipefail

die() { echo "new-migration.sh: $*" >&2; exit 1; }
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIGRATIONS="$ROOT/migrations"
CHECKSUMS="$MIGRATIONS/checksums.txt"
[ -d "$MIGRATIONS" ] || die "no migrations/ folder under $ROOT."
if command -v sha256sum >/dev/null 2>&1; then SHA256=(sha256sum)
elif command -v shasum >/dev/null 2>&1; then SHA256=(shasum -a 256)   # macOS; same output format
else die "neither sha256sum (coreutils) nor shasum is installed."
fi

checksum_line() { (cd "$MIGRATIONS" && "${SHA256[@]}" "$1"); }

on_main() {
  # true when migrations/$1 exists on main or origin/main (merged: immutable)
  git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 || return 1
  local ref
  for ref in origin/main main; do
    if git -C "$ROOT" cat-file -e "$ref:migrations/$1" 2>/dev/null; then echo "$ref"; return 0; fi
  done
  return 1
}

if [ "${1:-}" = "--rehash" ]; then
  [ $# -eq 2 ] || usage
  name="$(basename -- "$2")"
  [ -f "$MIGRATIONS/$name" ] || die "migrations/$name does not exist."
  if ref="$(on_main "$name")"; then
    die "migrations/$name is already on $ref: a merged migration is immutable (append-only). Restore it (git checkout $ref -- migrations/$name) and write the next migration instead."
  fi
  tmp="$(mktemp)"
  if [ -f "$CHECKSUMS" ]; then awk -v n="$name" '{ f=$0; sub(/^[0-9a-fA-F]+ [ *]?/, "", f); if (f != n) print }' "$CHECKSUMS" > "$tmp"; fi
  checksum_line "$name" >> "$tmp"
  mv "$tmp" "$CHECKSUMS"
  echo "new-migration.sh: re-recorded the checksum of migrations/$name" >&2
  exit 0
fi

[ $# -eq 1 ] && [ -n "${1// /}" ] || usage
case "$1" in -*) usage ;; esac

# "add app Invitation OrganizationId" / "add_app_Invitation_OrganizationId" -> add_app_Invitation_OrganizationId
read -r -a words <<< "$(echo "$1" | tr '_' ' ')"
[ "${#words[@]}" -ge 2 ] || die "give a verb and an object, e.g. \"add app Invitation OrganizationId\" (got '$1')."
slug="$(echo "${words[0]}" | tr '[:upper:]' '[:lower:]')"
for word in "${words[@]:1}"; do slug="${slug}_${word}"; done
[[ "$slug" =~ ^[a-z0-9]+(_[A-Za-z0-9]+)+$ ]] ||
  die "'$slug' is not a valid migration name: use letters and digits only (verb object, e.g. \"create app Course\")."

last=""
for existing in "$MIGRATIONS"/[0-9][0-9][0-9][0-9]_*.sql; do
  [ -e "$existing" ] || continue
  number="$(basename "$existing" | cut -c1-4)"
  if [[ "$number" > "$last" ]]; then last="$number"; fi
done
next="$(printf '%04d' $(( 10#${last:-0} + 1 )))"
[ "$next" != "10000" ] || die "migration numbers are exhausted (9999)."
name="${next}_${slug}.sql"
file="$MIGRATIONS/$name"
[ ! -e "$file" ] || die "migrations/$name already exists."

cat > "$file" <<TEMPLATE
/*
  ${next}_${slug}
  Why:   TODO - why this change is needed, and which issue asks for it.
  Locks: TODO - the locks it takes and for how long. A new table touches no existing table. On an existing
         table: add constraints WITH NOCHECK (never WITH CHECK CHECK CONSTRAINT), keep each step short, and
         start with SET LOCK_TIMEOUT so the runner retries on error 1222 instead of queueing every query.
  Checksum: recorded in migrations/checksums.txt when this file was created. After editing it (before it is
         merged) run: scripts/new-migration.sh --rehash $name
         Once merged it is immutable: write the next migration instead.
*/
TEMPLATE

checksum_line "$name" >> "$CHECKSUMS"
echo "new-migration.sh: created migrations/$name and recorded its checksum" >&2
echo "$file"
