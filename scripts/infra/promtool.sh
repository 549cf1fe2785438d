#!/usr/bin/env bash
# Builds promtool from github.com/prometheus/prometheus/cmd/promtool: it checks and unit-tests the
# chart's alert rules (charts/agentgateway/files/prometheus-rules.yaml; e2e/src/monitoring.test.ts).
# The Go module's version v0.3MM.P is Prometheus 3.MM.P (go.mod: go 1.26.7, builds with Go >= 1.26.7).
# The build tag remove_all_sd leaves out the cloud service-discovery plugins (AWS, Azure, GCE, ...),
# which `check rules` and `test rules` never use. Cold build times and sizes: docs/infra.md.
source "$(dirname "$0")/lib.sh"
PROMTOOL_VERSION="${PROMTOOL_VERSION:-v0.316.0}"
TAGS="netgo,remove_all_sd"
if have promtool "$PROMTOOL_VERSION+$TAGS" && [ -x "$BIN/promtool" ]; then log "promtool $PROMTOOL_VERSION cached"; exit 0; fi
rest="${PROMTOOL_VERSION#v0.}"; prom="3.$(( 10#${rest%%.*} - 300 )).${rest#*.}"
log "building promtool $PROMTOOL_VERSION (Prometheus $prom)"
CGO_ENABLED=0 GOBIN="$BIN" go install -trimpath -tags "$TAGS" \
  -ldflags "-s -w -X github.com/prometheus/common/version.Version=$prom -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.Revision=$PROMTOOL_VERSION" \
  "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
"$BIN/promtool" --version | head -1
stamp promtool "$PROMTOOL_VERSION+$TAGS"
