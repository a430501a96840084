#!/usr/bin/env bash
# The Compose file schema (compose-spec JSON schema), for validating deploy/compose.yaml
# offline: taken from the docker-compose 1.29.2 wheel on PyPI (the last Python release of
# Compose, which ships compose/config/compose_spec.json), stored under the venv.
set -euo pipefail
VENV="${1:-.venv}"
OUT="$VENV/share/augur/compose_spec.json"
[ -s "$OUT" ] && exit 0
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
"$VENV/bin/python" -m pip download -q --no-deps -d "$TMP" docker-compose==1.29.2 2>/dev/null
mkdir -p "$(dirname "$OUT")"
"$VENV/bin/python" - "$TMP"/docker_compose-1.29.2-*.whl "$OUT" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    data = wheel.read("compose/config/compose_spec.json")
open(sys.argv[2], "wb").write(data)
PY
echo "compose schema: $OUT"
