#!/usr/bin/env bash
# Packs DbMerge.Tool (the dbmerge command) and DbMerge.Client from this clone into artifacts/packages and installs or
# updates the dbmerge tool from that local pack (README "Set-up").
#   scripts/install-tool.sh           global tool: run it as `dbmerge` ($HOME/.dotnet/tools must be on PATH)
#   scripts/install-tool.sh --local   a tool of this clone (.config/dotnet-tools.json): run it as `dotnet dbmerge`
# Every pack gets its own version (0.1.0-local.<UTC time>), so the install never reuses a stale copy from the NuGet cache.
set -euo pipefail

cd "$(dirname "$0")/.."
scope=(--global)
if [ "${1:-}" = "--local" ]; then
  scope=()
  [ -f .config/dotnet-tools.json ] || dotnet new tool-manifest
elif [ $# -gt 0 ]; then
  echo "usage: scripts/install-tool.sh [--local]" >&2
  exit 2
fi

suffix="local.$(date -u +%Y%m%d%H%M%S)"
dotnet pack -c Release -o artifacts/packages -p:VersionSuffix="$suffix"
# --source, not --add-source: the local pack is the only feed, so a package of the same name on another feed (one this
# project does not own) can never be installed instead of what was just packed.
dotnet tool update "${scope[@]}" DbMerge.Tool --source artifacts/packages --prerelease
if [ ${#scope[@]} -gt 0 ] && ! command -v dbmerge >/dev/null 2>&1; then
  echo "install-tool: add \$HOME/.dotnet/tools to PATH to run dbmerge: export PATH=\"\$PATH:\$HOME/.dotnet/tools\"" >&2
fi
