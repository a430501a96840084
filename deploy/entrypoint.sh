#!/bin/sh
# The role of an Augur container: the first argument picks it; settings come from AUGUR_*
# variables (README, Configuration).
set -eu
role="${1:-help}"
[ "$#" -gt 0 ] && shift
case "$role" in
  features | churn | recommend | contact | gateway | outreach)
    exec augur serve "$role" "$@" ;;
  consumer)
    exec augur consume --shard "${AUGUR_SHARD:-0}" --metrics-port "${AUGUR_METRICS_PORT:-9100}" "$@" ;;
  mlflow)
    exec mlflow server --host 0.0.0.0 --port "${MLFLOW_PORT:-5000}" \
      --backend-store-uri "${MLFLOW_BACKEND_STORE_URI:?set MLFLOW_BACKEND_STORE_URI}" \
      --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION:-/var/lib/augur/artifacts}" "$@" ;;
  health)
    exec augur health "$@" ;;
  augur)
    exec augur "$@" ;;
  *)
    echo "usage: augur-entrypoint features|consumer|churn|recommend|contact|gateway|outreach|mlflow|health|augur [args]" >&2
    exit 2 ;;
esac
