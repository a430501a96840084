"""`augur eval` / `make eval`: fetch the public logs, run every protocol, print the tables and
write EVALUATION.md (a whole run only)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from augur.devtools.evaluation import churn, datasets, recommend, report, timing

EVALUATION = Path("EVALUATION.md")
WORK = Path(".augur") / "eval"


def run_eval(redis_url: str, only: list[str] | None = None) -> int:
    began = time.perf_counter()
    protocols = [p for p in churn.PROTOCOLS if not only or p.shop in only]
    rec_protocols = [p for p in recommend.REC_PROTOCOLS if not only or p.shop in only]
    timings = [p for p in timing.TIMING_PROTOCOLS if not only or p.shop in only]
    names = {p.shop for p in protocols} | {p.shop for p in rec_protocols}
    names |= {p.shop for p in timings}
    shops = {name: datasets.SHOPS[name]() for name in sorted(names)}
    outcomes = []
    for protocol in protocols:
        print(f"churn: {protocol.name} ...", flush=True)
        outcome = asyncio.run(churn.run(shops[protocol.shop], protocol, WORK, redis_url))
        outcomes.append(outcome)
        print("\n".join(report._table(outcome.scores)), flush=True)
        print(report._verdict(outcome), flush=True)
        print(report._reasons(outcome), flush=True)
    recs = []
    for rec in rec_protocols:
        print(f"recommend: {rec.name} ...", flush=True)
        done = asyncio.run(recommend.run(shops[rec.shop], rec, WORK, redis_url))
        recs.append(done)
        print("\n".join(report.rec_table(done)), flush=True)
    times = []
    for t in timings:
        print(f"contact timing: {t.name} ...", flush=True)
        times.append(timing.run(shops[t.shop], t))
        print("\n".join(report.timing_table(times[-1])), flush=True)
    seconds = time.perf_counter() - began
    if not only:
        report.write(EVALUATION, outcomes, "make eval", seconds, recs, times)
        print(f"figures written into {EVALUATION}")
    return 0
