#!/usr/bin/env bash
# Builds etcd from go.etcd.io/etcd/server/v3 (INFRA.md §2).
source "$(dirname "$0")/lib.sh"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
if have etcd "$ETCD_VERSION" && [ -x "$BIN/etcd" ]; then log "etcd $ETCD_VERSION cached"; exit 0; fi
work="$AGW_INFRA_HOME/src/etcd-$ETCD_VERSION"; rm -rf "$work"; mkdir -p "$work"; cd "$work"
cat > go.mod <<MOD
module agw.local/etcdbuild

go 1.24
MOD
log "fetching go.etcd.io/etcd/server/v3@$ETCD_VERSION"
GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3
"$BIN/etcd" --version | head -1
stamp etcd "$ETCD_VERSION"
