"""The gateway's front: nginx, configured and run by the gateway process.

nginx takes every client connection. It passes gRPC calls for the four backend services
straight to their processes (``grpc_pass``: no Python on that path) and sends REST/JSON,
the composition RPCs and health to the gateway's own Python server. Inside nginx, an njs
module checks the API key and its scopes (``nginx/augur_auth.js``) against a key map the
gateway writes from Redis, ``limit_req`` applies the per-key rate limit (shared by every
nginx worker), and each request is reported as one syslog datagram to the gateway, which
turns them into Prometheus metrics (``access.py``).

nginx was chosen by measurement (see the README's gateway benchmark): a Python pass-through
on grpc.aio cost ~0.7 ms per call and a core's worth of CPU at 1,000 calls/s.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from augur.common.errors import Unavailable
from augur.common.settings import GatewaySettings
from augur.gateway.keys import ADMIN_RPCS, KeyRecord
from augur.gateway.routes import BACKENDS, SERVICES

JS_MODULE = Path(__file__).parent / "nginx" / "augur_auth.js"
MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules", "/etc/nginx/modules")

# gRPC status codes of the answers nginx writes itself
LONG_CALL_SECONDS = 600  # the longest deadline a caller may set
_GRPC_ERRORS = {
    "unauthenticated": (16, "$augur_auth_message"),
    "denied": (7, "$augur_auth_message"),
    "exhausted": (8, "rate limit of API key $augur_key reached ({limit}); retry after {wait} s"),
    "unavailable": (14, "the $augur_service service is unavailable: no connection to its backend"),
    "timeout": (4, "the $augur_service service did not answer within the deadline"),
    "unknown": (12, "$uri is not a public Augur RPC"),
}
_REST_ERRORS = {
    "unauthenticated": (401, "UNAUTHENTICATED", "$augur_auth_message"),
    "denied": (403, "PERMISSION_DENIED", "$augur_auth_message"),
    "exhausted": (
        429,
        "RESOURCE_EXHAUSTED",
        "rate limit of API key $augur_key reached ({limit}); retry after {wait} s",
    ),
    "unavailable": (503, "UNAVAILABLE", "the gateway is unavailable"),
    "unknown": (404, "NOT_FOUND", "$uri is not a route of the Augur REST API"),
}


def _quit_with_parent() -> None:
    """In nginx's master before exec: it gets SIGQUIT (graceful stop) if the gateway dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def js_module_file() -> str | None:
    for d in MODULE_DIRS:
        candidate = Path(d) / "ngx_http_js_module.so"
        if candidate.exists():
            return str(candidate)
    return None


@dataclass(frozen=True)
class Ports:
    """Where the front listens and where the gateway's own Python servers answer."""

    grpc: str
    """Public gRPC (and REST over HTTP/2) address, host:port."""
    http: str
    """Public REST/JSON address for HTTP/1.1, host:port."""
    core_grpc: str
    core_http: str
    access_log: str
    """UDP host:port of the gateway's access-log receiver."""


def key_map(records: tuple[KeyRecord, ...]) -> str:
    """The nginx map body: key id -> "<salt> <hash> <scopes> <revoked>"."""
    lines = [
        f'"{r.key_id}" "{r.salt} {r.digest} {",".join(r.scopes)} {1 if r.revoked else 0}";'
        for r in records
    ]
    return "\n".join(lines) + "\n"


def render(settings: GatewaySettings, ports: Ports, prefix: Path) -> str:
    """The whole nginx configuration of the gateway."""
    module = js_module_file()
    if module is None:
        raise Unavailable(
            "nginx's njs module is not installed (apt-get install libnginx-mod-http-js)"
        )
    rate = settings.gateway_rate_per_second
    rate_text = f"{round(rate)}r/s" if rate >= 1 else f"{max(1, round(rate * 60))}r/m"
    wait = 1.0 / rate
    limit = f"{rate:g}/s, burst {settings.gateway_burst}"
    timeout_s = max(1, math.ceil(settings.gateway_default_timeout_ms / 1000))
    user = ""
    if os.geteuid() == 0:
        user = "user root root;"  # the front's files live in the gateway's state dir
    backends = settings.backends()
    tls = bool(settings.tls_cert_file)
    scheme = "grpcs" if settings.gateway_backend_ca_file else "grpc"

    upstreams = []
    for name in BACKENDS:
        address = backends.get(name)
        if address is None:
            continue
        # the same backend twice: one retry of a call that could not be sent, and, with
        # max_fails, a passive circuit breaker (both entries down -> 502 at once)
        fails = f"max_fails={settings.gateway_breaker_failures} " + (
            f"fail_timeout={math.ceil(settings.gateway_breaker_reset_seconds)}s"
        )
        upstreams.append(
            f"  upstream augur_{name} {{\n    server {address} {fails};\n"
            f"    server {address} {fails} backup;\n    keepalive 64;\n  }}"
        )
    upstreams.append(f"  upstream augur_core_grpc {{ server {ports.core_grpc}; keepalive 32; }}")
    upstreams.append(f"  upstream augur_core_http {{ server {ports.core_http}; keepalive 32; }}")

    backend_tls = ""
    if settings.gateway_backend_ca_file:
        backend_tls = (
            f"    grpc_ssl_trusted_certificate {settings.gateway_backend_ca_file};\n"
            "    grpc_ssl_verify on;\n    grpc_ssl_session_reuse on;\n"
        )
        if settings.gateway_backend_cert_file:
            backend_tls += (
                f"    grpc_ssl_certificate {settings.gateway_backend_cert_file};\n"
                f"    grpc_ssl_certificate_key {settings.gateway_backend_key_file};\n"
            )

    guard = (
        "      if ($augur_auth = unauthenticated) { return 401; }\n"
        "      if ($augur_auth = denied) { return 403; }\n"
        f"      limit_req zone=augur_keys burst={settings.gateway_burst} nodelay;\n"
    )
    grpc_errors = (
        "      error_page 401 = @grpc_unauthenticated;\n"
        "      error_page 403 = @grpc_denied;\n"
        "      error_page 429 = @grpc_exhausted;\n"
        "      error_page 502 503 = @grpc_unavailable;\n"
        "      error_page 504 = @grpc_timeout;\n"
    )
    rest_errors = (
        "      error_page 401 = @rest_unauthenticated;\n"
        "      error_page 403 = @rest_denied;\n"
        "      error_page 429 = @rest_exhausted;\n"
        "      error_page 502 503 504 = @rest_unavailable;\n"
    )
    grpc_locations = []
    for name in BACKENDS:
        if name not in backends:
            continue
        # the backend's certificate is checked against its host, not the upstream's name
        verify_name = (
            f"      grpc_ssl_name {backends[name].rsplit(':', 1)[0]};\n" if backend_tls else ""
        )
        grpc_locations.append(
            f"    location /{SERVICES[name]}/ {{\n      set $augur_service {name};\n{guard}"
            f"      grpc_set_header grpc-timeout $augur_grpc_timeout;\n"
            f"      grpc_pass {scheme}://augur_{name};\n{backend_tls}{verify_name}"
            f"{grpc_errors}    }}"
        )
    grpc_locations.append(
        f"    location /{SERVICES['gateway']}/ {{\n      set $augur_service gateway;\n{guard}"
        "      grpc_set_header grpc-timeout $augur_grpc_timeout;\n"
        "      grpc_set_header x-augur-key-id $augur_key;\n"
        # the core keeps the caller's deadline itself; a plan of many customers takes long
        f"      grpc_read_timeout {LONG_CALL_SECONDS}s;\n"
        f"      grpc_pass grpc://augur_core_grpc;\n{grpc_errors}    }}"
    )
    grpc_locations.append(
        "    location /grpc.health.v1.Health/ {\n      set $augur_service health;\n"
        f"      grpc_pass grpc://augur_core_grpc;\n{grpc_errors}    }}"
    )
    named = []
    for label, (code, message) in _GRPC_ERRORS.items():
        text = message.format(limit=limit, wait=f"{wait:.3f}")
        extra = f"      add_header retry-after {wait:.3f} always;\n" if label == "exhausted" else ""
        named.append(
            f"    location @grpc_{label} {{\n      default_type application/grpc;\n"
            f"      add_header grpc-status {code} always;\n"
            f'      add_header grpc-message "{text}" always;\n{extra}      return 204;\n    }}'
        )
    for label, (status, name, message) in _REST_ERRORS.items():
        text = message.format(limit=limit, wait=f"{wait:.3f}")
        extra = (
            f"      add_header Retry-After {math.ceil(wait)} always;\n"
            if label == "exhausted"
            else ""
        )
        body = f'{{"error": {{"code": {status}, "status": "{name}", "message": "{text}"}}}}'
        named.append(
            f"    location @rest_{label} {{\n      default_type application/json;\n{extra}"
            f"      return {status} '{body}\\n';\n    }}"
        )
    rest = (
        f"    location /v1/ {{\n      set $augur_service rest;\n{guard}"
        f"      proxy_read_timeout {LONG_CALL_SECONDS}s;\n"
        "      proxy_pass http://augur_core_http;\n"
        "      proxy_http_version 1.1;\n"
        '      proxy_set_header Connection "";\n'
        "      proxy_set_header X-Augur-Key-Id $augur_key;\n"
        "      proxy_buffering off;\n"
        f"{rest_errors}    }}\n"
        "    location = /openapi.json {\n      set $augur_service rest;\n"
        "      proxy_pass http://augur_core_http;\n      proxy_http_version 1.1;\n"
        f'      proxy_set_header Connection "";\n{rest_errors}    }}\n'
        "    location = /healthz {\n      set $augur_service health;\n"
        "      proxy_pass http://augur_core_http;\n      proxy_http_version 1.1;\n"
        f'      proxy_set_header Connection "";\n{rest_errors}    }}'
    )
    server_tls = ""
    listen_tls = ""
    if tls:
        listen_tls = " ssl"
        server_tls = (
            f"    ssl_certificate {settings.tls_cert_file};\n"
            f"    ssl_certificate_key {settings.tls_key_file};\n"
            "    ssl_protocols TLSv1.2 TLSv1.3;\n"
        )
        if settings.tls_client_ca_file:
            server_tls += (
                f"    ssl_client_certificate {settings.tls_client_ca_file};\n"
                "    ssl_verify_client on;\n"
            )
    named_text = "\n".join(named)
    grpc_text = "\n".join(grpc_locations)
    return f"""# Written by the Augur gateway (services/augur/gateway/front.py) at each start.
load_module {module};
worker_processes {settings.gateway_nginx_workers};
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  js_import augur from {JS_MODULE};
  js_set $augur_auth augur.status;
  js_set $augur_key augur.key;
  js_set $augur_auth_message augur.message;
  map $http_x_api_key$http_authorization $augur_claimed_id {{
    "~*^(bearer\\s+)?ak_(?<claimed>[0-9a-f]{{12}})\\." $claimed;
    default "";
  }}
  map $augur_claimed_id $augur_key_record {{
    default "";
    include {prefix}/keys.map;
  }}
  map $augur_claimed_id $augur_admin_rpcs {{ default "{",".join(sorted(ADMIN_RPCS))}"; }}
  map $http_grpc_timeout $augur_grpc_timeout {{
    "" "{settings.gateway_default_timeout_ms}m";
    default $http_grpc_timeout;
  }}
  limit_req_zone $augur_key zone=augur_keys:10m rate={rate_text};
  limit_req_status 429;
  limit_req_log_level warn;
  log_format augur_access '$augur_service $uri $augur_key $status '
    '$upstream_trailer_grpc_status|$upstream_http_grpc_status|$sent_http_grpc_status '
    '$request_time $upstream_response_time';
  access_log syslog:server={ports.access_log},tag=augur,nohostname augur_access;
  client_body_temp_path {prefix}/tmp/body;
  proxy_temp_path {prefix}/tmp/proxy;
  fastcgi_temp_path {prefix}/tmp/fastcgi;
  uwsgi_temp_path {prefix}/tmp/uwsgi;
  scgi_temp_path {prefix}/tmp/scgi;
  client_max_body_size {settings.max_message_bytes};
  client_body_buffer_size 64k;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  http2_max_concurrent_streams 1024;
  grpc_read_timeout {timeout_s}s;
  grpc_send_timeout {timeout_s}s;
  proxy_read_timeout {timeout_s}s;
  grpc_next_upstream error;
  grpc_next_upstream_tries 2;
  server_tokens off;
{chr(10).join(upstreams)}
  server {{
    listen {ports.grpc}{listen_tls} http2;
{server_tls}{grpc_text}
{rest}
    location / {{ set $augur_service unknown; return 404; error_page 404 = @grpc_unknown; }}
{named_text}
  }}
  server {{
    listen {ports.http}{listen_tls};
{server_tls}{rest}
    location / {{ set $augur_service unknown; return 404; error_page 404 = @rest_unknown; }}
{named_text}
  }}
}}
"""


class Front:
    """One nginx master (and its workers) run by the gateway process."""

    def __init__(self, settings: GatewaySettings, ports: Ports, prefix: Path) -> None:
        self.settings = settings
        self.ports = ports
        self.prefix = prefix.resolve()
        self.conf = self.prefix / "nginx.conf"
        self.keys_file = self.prefix / "keys.map"
        self.process: subprocess.Popen[bytes] | None = None
        self._keys_text: str | None = None

    def prepare(self, records: tuple[KeyRecord, ...]) -> None:
        """Write the configuration and the key map, and check them with ``nginx -t``."""
        binary = nginx_binary()
        if binary is None:
            raise Unavailable("nginx is not installed (apt-get install nginx-light)")
        self.binary = binary
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self._write_keys(records)
        self.conf.write_text(render(self.settings, self.ports, self.prefix))
        check = subprocess.run(
            [binary, "-t", "-q", "-p", str(self.prefix), "-c", str(self.conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise Unavailable(f"the gateway's nginx configuration is invalid: {check.stderr}")

    def _write_keys(self, records: tuple[KeyRecord, ...]) -> bool:
        text = key_map(records)
        if text == self._keys_text:
            return False
        tmp = self.keys_file.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.keys_file)
        self._keys_text = text
        return True

    def start(self, records: tuple[KeyRecord, ...]) -> None:
        self._stop_leftover()
        self.prepare(records)
        log = (self.prefix / "nginx.out").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_quit_with_parent,
        )
        log.close()

    def _stop_leftover(self) -> None:
        """An nginx left by a gateway that was killed holds the ports: stop it first."""
        pid_file = self.prefix / "nginx.pid"
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGQUIT)
        except (OSError, ValueError):
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)

    def update_keys(self, records: tuple[KeyRecord, ...]) -> bool:
        """Rewrite the key map and reload nginx gracefully when a key changed."""
        if not self._write_keys(records) or self.process is None:
            return False
        self.process.send_signal(signal.SIGHUP)
        return True

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish in-flight requests
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
