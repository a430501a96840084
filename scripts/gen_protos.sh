#!/usr/bin/env bash
# Regenerates the Python code of every .proto under protos/ into
# services/generated (imported as `augur.<svc>.v1`). Deterministic: the output
# depends only on the .proto files and the pinned grpcio-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
OUT=services/generated
rm -rf "$OUT"
mkdir -p "$OUT"
mapfile -t PROTOS < <(cd protos && find augur -name '*.proto' | LC_ALL=C sort)
(cd protos && "../$PY" -m grpc_tools.protoc -I . \
  --python_out="../$OUT" --pyi_out="../$OUT" --grpc_python_out="../$OUT" "${PROTOS[@]}")
# Every generated directory is a regular package.
find "$OUT/augur" -type d -exec sh -c 'for d; do : > "$d/__init__.py"; done' _ {} +
echo "generated $(find "$OUT" -name '*_pb2.py' | wc -l) modules into $OUT"
