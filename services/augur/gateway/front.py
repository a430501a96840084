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

import math
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2

from augur.common.errors import Unavailable
from augur.common.settings import GatewaySettings
from augur.gateway.keys import ADMIN_RPCS, KeyRecord
from augur.gateway.routes import BACKENDS, SERVICES

JS_MODULE = Path(__file__).parent / "nginx" / "augur_auth.js"
TEMPLATE = Path(__file__).parent / "nginx" / "nginx.conf.j2"
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


def _with_parent(command: list[str]) -> list[str]:
    """``command`` made to get SIGQUIT (a graceful stop) when the gateway dies, through
    util-linux's ``setpriv --pdeathsig`` (it execs the command, so nginx's master is that
    process); unchanged where setpriv is missing. Not a ``preexec_fn``: Python code between
    fork and exec runs the at-fork handlers of gRPC's threads, which broke nginx's start."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "QUIT", "--", *command] if setpriv else command


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


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,  # a name the template uses but render() lacks fails
        autoescape=False,  # nginx configuration, not HTML
    )
    return env.get_template(TEMPLATE.name)


def render(settings: GatewaySettings, ports: Ports, prefix: Path) -> str:
    """The whole nginx configuration of the gateway (``nginx/nginx.conf.j2`` filled in)."""
    module = js_module_file()
    if module is None:
        raise Unavailable(
            "nginx's njs module is not installed (apt-get install libnginx-mod-http-js)"
        )
    rate = settings.gateway_rate_per_second
    wait = 1.0 / rate
    limit = f"{rate:g}/s, burst {settings.gateway_burst}"
    backends = settings.backends()
    return _template().render(
        s=settings,
        ports=ports,
        prefix=prefix,
        module=module,
        js_module=JS_MODULE,
        run_as_root=os.geteuid() == 0,  # the front's files live in the gateway's state dir
        admin_rpcs=",".join(sorted(ADMIN_RPCS)),
        rate=f"{round(rate)}r/s" if rate >= 1 else f"{max(1, round(rate * 60))}r/m",
        timeout_s=max(1, math.ceil(settings.gateway_default_timeout_ms / 1000)),
        long_call_s=LONG_CALL_SECONDS,
        fails=f"max_fails={settings.gateway_breaker_failures} "
        f"fail_timeout={math.ceil(settings.gateway_breaker_reset_seconds)}s",
        scheme="grpcs" if settings.gateway_backend_ca_file else "grpc",
        backends=[
            {
                "name": name,
                "address": backends[name],
                "host": backends[name].rsplit(":", 1)[0],
                "service": SERVICES[name],
            }
            for name in BACKENDS
            if name in backends
        ],
        gateway_service=SERVICES["gateway"],
        grpc_error_pages=[
            {
                "label": label,
                "code": code,
                "message": message.format(limit=limit, wait=f"{wait:.3f}"),
                "retry_after": f"{wait:.3f}" if label == "exhausted" else "",
            }
            for label, (code, message) in _GRPC_ERRORS.items()
        ],
        rest_error_pages=[
            {
                "label": label,
                "status": status,
                "name": name,
                "message": message.format(limit=limit, wait=f"{wait:.3f}"),
                "retry_after": str(math.ceil(wait)) if label == "exhausted" else "",
            }
            for label, (status, name, message) in _REST_ERRORS.items()
        ],
    )


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
            _with_parent(
                [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-g", "daemon off;"]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
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
