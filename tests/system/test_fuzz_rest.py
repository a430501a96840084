"""The gateway's REST API fuzzed from its own OpenAPI document with Schemathesis (its CLI, in
a subprocess, so this event loop keeps serving): generated and schema-violating bodies for
every operation, with an admin key. No answer may be a server error (5xx)."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from pathlib import Path

from augur.common.settings import ServerSettings
from tests.integration.gateway_stack import (
    Stack,
    gateway_settings,
    running_gateway,
    start_features,
)


async def test_rest_api_fuzzed_from_its_openapi_document(
    settings: ServerSettings, stack: Stack, tmp_path: Path
) -> None:
    binary = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    features = await start_features(settings, tmp_path, stack)
    # no rate limit in the way of the fuzzer
    gs = gateway_settings(settings, stack, gateway_rate_per_second=1e6, gateway_burst=1e6)
    async with running_gateway(gs) as gw:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "run",
            f"http://127.0.0.1:{gw.ports.http}/openapi.json",
            "--header",
            f"x-api-key: {stack.tokens['ops']}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--seed",
            "7",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--workers",
            "1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 900)
    await features.stop(0)
    text = out.decode(errors="replace")
    print(text[-2500:])
    assert proc.returncode == 0, text[-6000:]
    cases = re.search(r"(\d[\d,]*) generated", text)
    assert cases and int(cases.group(1).replace(",", "")) > 100, text[-2500:]
