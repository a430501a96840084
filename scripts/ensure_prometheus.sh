#!/usr/bin/env bash
# Makes sure Prometheus and promtool are installed (Debian's `prometheus` package): the
# rules are checked and unit-tested with promtool, and an end-to-end test scrapes a running
# stack with a real Prometheus. Needs root (or sudo) on a machine without them.
set -euo pipefail
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  echo "prometheus: installed ($(promtool --version 2>&1 | head -1 | cut -d' ' -f3))"; exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "prometheus: installing Debian's prometheus package (promtool, prometheus)"
($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  --no-install-recommends prometheus) >/dev/null
# the package may start its own service; Augur's tests run their own instance
($SUDO systemctl disable --now prometheus prometheus-node-exporter 2>/dev/null || true) >/dev/null
command -v promtool >/dev/null || { echo "prometheus: promtool did not install" >&2; exit 1; }
echo "prometheus: installed"
