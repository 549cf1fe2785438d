#!/usr/bin/env bash
# Builds helm from helm.sh/helm/v3 (INFRA.md §5).
source "$(dirname "$0")/lib.sh"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
if have helm "$HELM_VERSION" && [ -x "$BIN/helm" ]; then log "helm $HELM_VERSION cached"; exit 0; fi
log "building helm $HELM_VERSION"
CGO_ENABLED=0 GOBIN="$BIN" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
"$BIN/helm" version --short
stamp helm "$HELM_VERSION"
