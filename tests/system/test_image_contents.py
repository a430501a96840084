"""What the serving image installs: the wheel built from exactly the files the Dockerfile's
build stage copies holds the product, training and the `augur` command, and no developer
tool (local stack, demo, bench, chaos, soak). No Docker engine runs here, so the build
stage's COPY lines are replayed into a folder and built with pip as the Dockerfile does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _build_stage_copies() -> list[tuple[str, str]]:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    build = re.split(r"^FROM ", text, flags=re.M)[1]  # the first stage
    copies = []
    for line in build.splitlines():
        found = re.match(r"COPY (?!--)(.+)", line.strip())
        if found:
            *sources, target = found.group(1).split()
            copies.extend((s, target) for s in sources)
    return copies


def test_the_serving_image_holds_no_developer_tool(tmp_path: Path) -> None:
    stage = tmp_path / "src"
    stage.mkdir()
    copies = _build_stage_copies()
    assert ("tools/augur/cli", "./tools/augur/cli") in copies, copies
    for source, target in copies:  # Docker's rules: "dir/" receives, otherwise "target" is
        origin = ROOT / source
        dest = stage / target / origin.name if target.endswith("/") else stage / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, dest, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, dest)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "-w", str(dist), str(stage)], check=True)
    wheel = zipfile.ZipFile(next(dist.glob("augur-*.whl")))
    names = wheel.namelist()
    packages = {n.split("/")[1] for n in names if n.startswith("augur/") and n.count("/") > 1}
    assert packages == {
        "churn", "cli", "common", "contact", "features", "gateway", "ingest", "outreach",
        "recommend", "training",
    }  # fmt: skip
    tools = [n for n in names if re.search(r"devtools|/bench/|/chaos/|demo|soak|runtime\.py", n)]
    assert tools == []
    # what the gateway and the entry point need at run time is there
    assert "augur/gateway/nginx/nginx.conf.j2" in names
    assert "augur/gateway/nginx/augur_auth.js" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "augur = augur.cli.main:main" in wheel.read(entry).decode()
