# Shared helpers for the infra scripts. Sourced, not run.
# Everything is cached outside the repo, keyed by version, so a warm run costs seconds.
set -euo pipefail
AGW_INFRA_HOME="${AGW_INFRA_HOME:-$HOME/.cache/agw-infra}"
BIN="$AGW_INFRA_HOME/bin"
mkdir -p "$BIN"
export GOFLAGS="${GOFLAGS:-}" GOTOOLCHAIN=local
log() { printf '[infra %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# stamp NAME VERSION: true when NAME was already built at VERSION.
have() { [ -f "$AGW_INFRA_HOME/stamps/$1" ] && [ "$(cat "$AGW_INFRA_HOME/stamps/$1")" = "$2" ]; }
stamp() { mkdir -p "$AGW_INFRA_HOME/stamps"; printf '%s' "$2" > "$AGW_INFRA_HOME/stamps/$1"; }
