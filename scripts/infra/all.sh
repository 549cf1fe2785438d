#!/usr/bin/env bash
# Builds or fetches every piece of real test infrastructure; prints the cache directory's env file.
# Independent pieces run in parallel; the kube build dominates (see docs/infra.md for timings).
source "$(dirname "$0")/lib.sh"
here="$(cd "$(dirname "$0")" && pwd)"
start=$(date +%s)
pids=()
for s in kube etcd helm gateway-api keycloak promtool; do
  bash "$here/$s.sh" > "$AGW_INFRA_HOME/$s.log" 2>&1 & pids+=("$!:$s")
done
fail=0
for p in "${pids[@]}"; do
  if ! wait "${p%%:*}"; then log "FAILED: ${p#*:} (log: $AGW_INFRA_HOME/${p#*:}.log)"; tail -30 "$AGW_INFRA_HOME/${p#*:}.log" >&2; fail=1; fi
done
[ "$fail" = 0 ] || exit 1
log "infra ready in $(( $(date +%s) - start )) s under $AGW_INFRA_HOME"
