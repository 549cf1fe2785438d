#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint, built from its Go
# module through the Go module proxy: no GitHub access, no binary download. The first run on a
# machine downloads and builds it (about a minute on 2 cores); later runs take the module and build
# caches (about 2 s). actionlint runs shellcheck on `run:` scripts when shellcheck is on PATH.
# ACTIONLINT_VERSION overrides the version (`go list -m -versions github.com/rhysd/actionlint`).
set -euo pipefail
cd "$(dirname "$0")/.."

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
command -v go >/dev/null || { echo "check-workflows: go is needed (actionlint is built from its Go module)" >&2; exit 1; }

# Through the module proxy only: no `direct` fallback to a VCS (github.com is unreachable here and
# would only turn a proxy miss into a long timeout), no toolchain download, the module's own go.mod.
proxy="$(go env GOPROXY | tr ',|' '\n' | { grep -v -x direct || true; } | paste -sd, -)"
export GOPROXY="${proxy:-https://proxy.golang.org}"
export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#workflows[@]} -eq 0 ]; then echo "check-workflows: no workflow under .github/workflows" >&2; exit 1; fi

start=$(date +%s)
shellcheck_state="not on PATH, run: scripts not checked"
command -v shellcheck >/dev/null && shellcheck_state="$(command -v shellcheck)"
go run "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}" -color=false "${workflows[@]}"
echo "actionlint ${ACTIONLINT_VERSION}: ${#workflows[@]} workflow(s) clean in $(( $(date +%s) - start )) s (shellcheck: ${shellcheck_state})"
