#!/usr/bin/env bash
# Downloads the Keycloak Quarkus distribution from Maven Central (INFRA.md §4).
source "$(dirname "$0")/lib.sh"
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.5.6}"
out="$AGW_INFRA_HOME/keycloak-$KEYCLOAK_VERSION"
if have keycloak "$KEYCLOAK_VERSION" && [ -x "$out/bin/kc.sh" ]; then log "keycloak $KEYCLOAK_VERSION cached"; exit 0; fi
dl="$AGW_INFRA_HOME/dl"; mkdir -p "$dl"
log "downloading keycloak-quarkus-dist $KEYCLOAK_VERSION"
mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
  "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" "-DoutputDirectory=$dl"
rm -rf "$out" "$AGW_INFRA_HOME/keycloak-tmp"; mkdir -p "$AGW_INFRA_HOME/keycloak-tmp"
tar -xzf "$dl/keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz" -C "$AGW_INFRA_HOME/keycloak-tmp"
mv "$AGW_INFRA_HOME/keycloak-tmp"/keycloak-* "$out"; rmdir "$AGW_INFRA_HOME/keycloak-tmp"
log "keycloak at $out"
stamp keycloak "$KEYCLOAK_VERSION"
