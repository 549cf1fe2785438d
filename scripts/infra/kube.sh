#!/usr/bin/env bash
# Builds kube-apiserver and kubectl from the Go module k8s.io/kubernetes (INFRA.md §1).
# The module's go.mod requires its staging modules at v0.0.0, which the proxy does not serve, so a
# scratch module replaces every staging module with its published tag k8s.io/<m> v0.<minor>.<patch>.
source "$(dirname "$0")/lib.sh"
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
if have kube "$K8S_VERSION" && [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubectl" ]; then
  log "kube-apiserver and kubectl $K8S_VERSION cached"; exit 0
fi
minor="${K8S_VERSION#v1.}"; staging="v0.${minor}"
work="$AGW_INFRA_HOME/src/kube-$K8S_VERSION"; rm -rf "$work"; mkdir -p "$work"; cd "$work"
log "resolving k8s.io/kubernetes@$K8S_VERSION"
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
cat > go.mod <<MOD
module agw.local/kubebuild

go 1.24
MOD
grep -E '^godebug' "$gomod" >> go.mod || true
echo "require k8s.io/kubernetes $K8S_VERSION" >> go.mod
grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/' "$gomod" | awk '{print $1}' | sort -u | while read -r m; do
  echo "replace $m => $m $staging" >> go.mod
done
log "$(grep -c '^replace' go.mod) staging modules replaced with $staging"
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
ver="${K8S_VERSION#v}"; maj="${ver%%.*}"; rest="${ver#*.}"; min="${rest%%.*}"
LDF=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDF="$LDF -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$maj -X $p.gitMinor=$min -X $p.gitTreeState=clean"
done
log "go mod tidy (downloads the dependency graph)"
GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>tidy.log || { tail -20 tidy.log; }
for cmd in kube-apiserver kubectl; do
  log "building $cmd"
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $LDF" -o "$BIN/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
"$BIN/kubectl" version --client
stamp kube "$K8S_VERSION"
