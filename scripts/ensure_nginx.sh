#!/usr/bin/env bash
# Makes sure nginx with its njs module (the gateway's front) is installed: Debian's
# nginx-light and libnginx-mod-http-js. Needs root (or sudo) on a machine without them.
set -euo pipefail
have_js() { ls /usr/lib/nginx/modules/ngx_http_js_module.so /usr/share/nginx/modules/ngx_http_js_module.so 2>/dev/null | grep -q .; }
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  if have_js; then echo "nginx: installed with njs"; exit 0; fi
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "nginx: installing nginx-light and libnginx-mod-http-js (the gateway's front)"
($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  --no-install-recommends nginx-light libnginx-mod-http-js) >/dev/null
have_js || { echo "nginx: the njs module did not install" >&2; exit 1; }
echo "nginx: installed with njs"
