#!/usr/bin/env bash
# Copies the Gateway API standard CRDs from the Go module sigs.k8s.io/gateway-api (INFRA.md §6).
source "$(dirname "$0")/lib.sh"
GWAPI_VERSION="${GWAPI_VERSION:-v1.4.1}"
out="$AGW_INFRA_HOME/gateway-api-$GWAPI_VERSION"
if have gateway-api "$GWAPI_VERSION" && [ -d "$out" ]; then log "gateway-api CRDs $GWAPI_VERSION cached"; exit 0; fi
dir=$(cd /tmp && go mod download -json "sigs.k8s.io/gateway-api@$GWAPI_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
rm -rf "$out"; mkdir -p "$out"
cp "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$out/"
chmod u+w "$out"/*
log "gateway-api CRDs: $(ls "$out" | wc -l) files"
stamp gateway-api "$GWAPI_VERSION"
