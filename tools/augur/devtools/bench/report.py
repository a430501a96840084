"""The figures section of BENCHMARKS.md, written by `make bench` from the run's own results
(between the two markers; the prose around them is kept)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from augur.devtools.bench.harness import Result

BEGIN = "<!-- figures: written by make bench; do not edit by hand -->"
END = "<!-- end of figures -->"


def machine() -> str:
    cpu = "unknown CPU"
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 2**20:.0f} GiB"
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    return f"{cores} cores ({cpu}){memory}, {platform.system()} {platform.release()}"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value == value else "-"  # NaN: nothing measured


def render(results: list[Result], command: str, seconds: float) -> str:
    rpcs = [r for r in results if r.scenario.startswith("rpc ")]
    trained = [r for r in results if r.scenario.startswith(("train ", "retrain"))]
    others = [r for r in results if r not in rpcs and r not in trained]
    out = [
        BEGIN,
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}: "
        f"`{command}`, {seconds / 60:.0f} min in all.",
        "",
    ]
    if rpcs:
        out += [
            "### Every RPC",
            "",
            "p50/p99 at a light fixed rate (open loop), then the highest rate at which p99 "
            "stayed within 10 ms with no error.",
            "",
            "| RPC | p50 ms | p99 ms | max rate at p99 ≤ 10 ms (/s) | errors | how |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for r in rpcs:
            rate = f"{r.rps:,.0f}" if r.rps else "-"
            out.append(
                f"| {r.scenario[4:]} | {_ms(r.p50_ms)} | {_ms(r.p99_ms)} | {rate} | {r.errors} | "
                f"{r.note} |"
            )
        out.append("")
    if others:
        out += [
            "### Scenarios",
            "",
            "| scenario | p50 ms | p99 ms | max ms | rate (/s) | errors | note |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for r in others:
            out.append(
                f"| {r.scenario} | {_ms(r.p50_ms)} | {_ms(r.p99_ms)} | {_ms(r.max_ms)} | "
                f"{r.rps:,.1f} | {r.errors} | {r.note} |"
            )
        out.append("")
    if trained:
        out += ["### Training", "", "| step | figures |", "|---|---|"]
        out += [f"| {r.scenario} | {r.note} |" for r in trained]
        out.append("")
    out.append(END)
    return "\n".join(out)


def update(path: Path, results: list[Result], command: str, seconds: float) -> bool:
    """Replace the figures section of ``path``; False when the file has no markers."""
    return write_between(path, BEGIN, END, render(results, command, seconds))


def write_between(path: Path, begin: str, end: str, section: str) -> bool:
    """Replace the text from ``begin`` to ``end`` in ``path`` by ``section`` (which starts with
    ``begin`` and ends with ``end``), keeping the prose around it; False without the markers."""
    if not path.exists():
        return False
    text = path.read_text()
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + section + tail)
    return True
