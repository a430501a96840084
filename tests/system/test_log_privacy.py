"""Every log the suite wrote holds no customer id, e-mail address or phone number.

Runs after every other test (marker ``last``) and reads what they left: the log of every
process they started (services, gateway and its nginx, consumers, MLflow and Redis servers,
all under the session's temp directory) and the records of in-process servers.
The test data's customer ids are ``C`` and seven digits; the suite also calls the services
with e-mail- and phone-shaped customer ids (``test_gateway``), as a shop that keys its
customers by e-mail would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_PROCESS_LOG

pytestmark = pytest.mark.last

PERSONAL = {
    "customer id": re.compile(r"\bC\d{7}\b"),
    "e-mail address": re.compile(r"[\w.%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "phone number": re.compile(r"\+\d{8,15}\b"),
}
LOG_NAMES = re.compile(r"(\.log|\.out|\.err)$")


def log_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and LOG_NAMES.search(path.name):
            yield path


def findings(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            for what, pattern in PERSONAL.items():
                match = pattern.search(line)
                if match:
                    yield f"{path}:{number}: {what} {match.group(0)!r}: {line.strip()[:200]}"


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.txt"  # not a log name: the suite's scan must not read it
    sample.write_text(
        '{"msg": "scored C0001234"}\n{"msg": "to jane.doe@example.com"}\n'
        '{"msg": "call +4915112345678"}\n{"msg": "GET /metrics 200 in 3 ms"}\n'
    )
    found = list(findings(sample))
    assert [f.split(": ")[1].rsplit(" ", 1)[0] for f in found] == [
        "customer id",
        "e-mail address",
        "phone number",
    ]


def test_no_log_of_the_suite_holds_personal_data(
    suite_logs: Path, request: pytest.FixtureRequest
) -> None:
    if len({item.path for item in request.session.items}) < 10:
        pytest.skip("reads the logs of the whole suite: run with it (make test)")
    files = list(log_files(suite_logs))
    names = {p.name for p in files}
    # the scan is only worth something when the suite's processes really wrote their logs
    assert IN_PROCESS_LOG in names and "gateway.log" in names and "churn.log" in names, names
    lines = 0
    found: list[str] = []
    for path in files:
        with path.open("rb") as f:
            lines += sum(1 for _ in f)
        found.extend(findings(path))
    print(f"scanned {len(files)} log files, {lines:,} lines")
    assert lines > 1000
    assert not found, "\n".join(found[:30])
