#!/usr/bin/env bash
# Regenerates the Python code of every .proto under protos/ into the product tree, next to
# the package it belongs to: protos/augur/<svc>/v1/*.proto -> services/augur/<svc>/v1/
# (imported as `augur.<svc>.v1`). Only the v1/ folders are generated; everything else under
# services/augur is hand-written. Deterministic: the output depends only on the .proto files
# and the pinned grpcio-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
ROOT=services
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mapfile -t PROTOS < <(cd protos && find augur -name '*.proto' | LC_ALL=C sort)
(cd protos && "../$PY" -m grpc_tools.protoc -I . \
  --python_out="$TMP" --pyi_out="$TMP" --grpc_python_out="$TMP" "${PROTOS[@]}")
rm -rf "$ROOT"/augur/*/v1
for dir in "$TMP"/augur/*/v1; do
  svc="$(basename "$(dirname "$dir")")"
  mkdir -p "$ROOT/augur/$svc"
  cp -r "$dir" "$ROOT/augur/$svc/v1"
  : > "$ROOT/augur/$svc/v1/__init__.py"
done
echo "generated $(find "$ROOT"/augur/*/v1 -name '*_pb2.py' | wc -l) modules into $ROOT/augur/<svc>/v1"
