"""Next-best-contact scenarios of `make bench`: NextBestContact with every channel x every
hour of a 7-day window scored per call (4 x 169 candidates), and RecordContact
reservations (the caps script) at a fixed rate, against the running contact service."""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from augur.common.convert import timestamp
from augur.common.v1 import common_pb2, common_pb2_grpc
from augur.contact.policy import Policy
from augur.contact.state import ContactState
from augur.contact.v1 import contact_pb2 as C
from augur.contact.v1 import contact_pb2_grpc
from augur.devtools.bench.harness import Result, open_loop
from augur.devtools.runtime import StackState
from augur.features.store import RedisFeatureStore
from augur.training.contact.materialise import load_contact_state
from augur.training.data.loader import Dataset
from augur.training.data.synthetic import SyntheticConfig, generate

CUSTOMERS = 10_000
DECIDE_RATE = 500
DECIDE_RATES = (250, 500)
RECORD_RATES = (1000, 2000, 2500)
CONNECTIONS_PER_PROCESS = 1


def bench_data(root: Path) -> Path:
    path = root / f"data-contact-{CUSTOMERS}"
    if not (path / "contacts.csv").exists():
        print(f"generating the contact benchmark data ({CUSTOMERS:,} customers) in {path}")
        generate(
            path,
            SyntheticConfig(customers=CUSTOMERS, items=300, days=365, seed=303, contact_rate=3.0),
            progress=False,
        )
    return path


def ensure_champion(data: Path, tracking_uri: str, root: Path) -> None:
    from augur.training import registry
    from augur.training.contact.pipeline import train_contact

    registry.configure(tracking_uri, root, "augur-contact")
    if registry.champion_version("augur-contact") is None:
        print("training the benchmark response model (once; kept in .bench/stack)")
        train_contact(data, tracking_uri, root, progress=False)


def load_state(ds: Dataset, store: RedisFeatureStore) -> tuple[list[str], int]:
    """The contact state of the bench shop in Redis: (2,000 customers with every channel
    consented, customers loaded)."""
    contact_state = ContactState(store)
    loaded = load_contact_state(ds, contact_state)
    customers = sorted(set(ds.contacts["customer_id"]))[:2000]
    # every channel consented, so each decision scores 4 channels x 169 hours
    contact_state.load_customers(
        customers,
        np.ones((len(customers), 4), dtype=bool),
        ["Europe/Paris"] * len(customers),
        [_profile(contact_state, c) for c in customers],
    )
    # no quiet hours: every hour of the window is a candidate, so each decision scores all
    # 4 channels x 169 hours (the default policy would skip the 11 quiet hours of each day)
    contact_state.set_policy(Policy(quiet_start=0, quiet_end=0))
    return customers, loaded


async def direct(
    state: StackState, ds: Dataset, store: RedisFeatureStore, duration: float, results: list[Result]
) -> None:
    customers, loaded = load_state(ds, store)
    port = state.port_of("contact")
    processes = os.environ.get("AUGUR_CONTACT_PROCESSES", "1")
    serial = itertools.count()
    # one connection per server process at least: SO_REUSEPORT balances connections
    channels = [
        grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(CONNECTIONS_PER_PROCESS * int(processes))
    ]
    try:
        echo = common_pb2_grpc.DiagnosticsServiceStub(channels[0])
        stubs = itertools.cycle([contact_pb2_grpc.ContactServiceStub(c) for c in channels])
        ping = common_pb2.EchoRequest(payload=b"x" * 64)

        def decide() -> Any:
            return next(stubs).NextBestContact(
                C.NextBestContactRequest(customer_id=random.choice(customers), alternatives=2),
                timeout=2,
            )

        answers = [await decide() for _ in range(300)]
        scored = sum(a.contact for a in answers)
        now = time.time()

        def record() -> Any:
            i = next(serial)
            return next(stubs).RecordContact(
                C.RecordContactRequest(
                    contact_id=f"bench-{i}",
                    customer_id=random.choice(customers),
                    channel=1 + i % 4,  # type: ignore[arg-type]
                    send_at=timestamp(now + random.uniform(0, 30) * 86400),
                ),
                timeout=2,
            )

        scenarios = [
            (
                f"contact echo (floor) @{DECIDE_RATE}/s",
                DECIDE_RATE,
                lambda: echo.Echo(ping, timeout=2),
                "",
            ),
            *(
                (
                    f"NextBestContact 4x169 @{r}/s",
                    r,
                    decide,
                    f"4 channels x 169 hours scored per call; {scored}/300 warm-up answers "
                    f"advise a contact; {loaded:,} customers' contact state loaded",
                )
                for r in DECIDE_RATES
            ),
            *(
                (f"RecordContact @{r}/s", r, record, "caps script; unique contact ids")
                for r in RECORD_RATES
            ),
        ]
        for name, rate, call, note in scenarios:
            load = await open_loop(call, rate, duration)
            results.append(
                load.result(name, note=f"{note}; {processes} processes" if note else note)
            )
    finally:
        for c in channels:
            await c.close()


def _profile(state: ContactState, customer: str) -> dict[str, str]:
    raw: Any = state.client.hgetall(state.keys.contact(customer, "profile"))
    return {k.decode(): v.decode() for k, v in raw.items()}
