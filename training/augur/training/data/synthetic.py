"""Seeded synthetic e-commerce event log with its ground truth.

The generator simulates customers week by week (vectorised over a chunk of
customers, so memory stays bounded whatever the size):

* staples bought again on personal repurchase cycles (consumable categories),
  and new items explored from favourite categories;
* browsing (views, searches, wish list, carts, some abandoned) that leads to
  purchases or not;
* contacts on e-mail / SMS / push / phone sent by the business, answered
  with a probability that depends on the customer's preferred channel and
  local hour and day type, in the customer's own time zone;
* churn: a customer starts to disengage with a weekly hazard driven by
  signals the customer has experienced and the shop can observe: recent
  returns (service problems), a staple bought at a higher price than the
  time before (price increase), contacts left unanswered, and carts abandoned
  during a bad spell (episodes of a few weeks in which the customer fills
  the cart and does not buy); while disengaging, all activity fades over a
  few weeks before it stops.

Output: orders, interactions, contacts, customers, items (CSV or Parquet),
and ``truth/`` with the planted parameters (churn times and drivers,
repurchase cycles, channel and hour preferences).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from augur.training.data.schema import CHANNELS

TIMEZONES = (
    ("Europe/Paris", 0.35),
    ("Europe/London", 0.2),
    ("America/New_York", 0.2),
    ("America/Los_Angeles", 0.1),
    ("Asia/Tokyo", 0.08),
    ("Australia/Sydney", 0.07),
)
CONSENT_RATE = np.array([0.85, 0.5, 0.45, 0.3])
CHANNEL_BASE_RESPONSE = np.array([0.22, 0.14, 0.10, 0.30])
BUSINESS_CHANNEL_MIX = np.array([0.6, 0.2, 0.15, 0.05])
CONSUMABLE_CYCLES = np.array([7, 10, 14, 21, 30, 45, 60], dtype=float)
MAX_STAPLES = 6
DRIVERS = ("service_problem", "price_increase", "unanswered_contacts", "abandoned_carts")


@dataclass
class SyntheticConfig:
    """Size and seed of a generated data set."""

    customers: int = 2000
    items: int = 500
    categories: int = 24
    days: int = 365
    start: str = "2025-01-06"
    seed: int = 7
    fmt: str = "csv"
    chunk: int = 20_000
    contact_rate: float = 1.0  # scales how often the business contacts each customer


@dataclass
class GenerationSummary:
    """What was written."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(v for k, v in self.rows.items() if k in ("orders", "interactions", "contacts"))


class _Writer:
    """Appends frames to CSV or Parquet files chunk by chunk."""

    def __init__(self, root: Path, fmt: str) -> None:
        self.root = root
        self.fmt = fmt
        self.parquet: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, frame: pd.DataFrame) -> None:
        path = self.root / f"{name}.{'parquet' if self.fmt == 'parquet' else 'csv'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if name not in self.parquet:
                self.parquet[name] = pq.ParquetWriter(path, table.schema)
            self.parquet[name].write_table(table)
        else:
            out = frame.copy()
            for col in out.columns:
                if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                    out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna("")
            out.to_csv(
                path,
                mode="a" if name in self.rows else "w",
                header=name not in self.rows,
                index=False,
            )
        self.rows[name] = self.rows.get(name, 0) + len(frame)

    def close(self) -> None:
        for writer in self.parquet.values():
            writer.close()


def _catalog(rng: np.random.Generator, cfg: SyntheticConfig) -> pd.DataFrame:
    n_cat = cfg.categories
    consumable = rng.random(n_cat) < 0.7
    cycles = np.where(
        consumable, rng.choice(CONSUMABLE_CYCLES, n_cat), rng.uniform(365, 1000, n_cat)
    )
    cat_pop = rng.dirichlet(np.full(n_cat, 1.5))
    cat_of_item = np.sort(rng.choice(n_cat, cfg.items, p=cat_pop))
    cat_of_item[:n_cat] = np.arange(n_cat)  # every category has an item
    base_price = np.exp(rng.normal(np.where(consumable, 1.5, 3.5), 0.4, n_cat))
    price = np.round(base_price[cat_of_item] * rng.lognormal(0, 0.3, cfg.items), 2)
    popularity = rng.zipf(1.6, cfg.items).astype(float)
    increase = rng.random(cfg.items) < 0.2
    return pd.DataFrame(
        {
            "item_id": [f"I{i:06d}" for i in range(cfg.items)],
            "category": [f"cat{c:02d}" for c in cat_of_item],
            "cat": cat_of_item,
            "consumable": consumable[cat_of_item],
            "cycle_days": cycles[cat_of_item],
            "base_price": price,
            "popularity": popularity,
            "increase_day": np.where(increase, rng.uniform(30, cfg.days, cfg.items), np.inf),
            "increase_factor": np.where(increase, rng.uniform(1.25, 1.6, cfg.items), 1.0),
            "in_stock": rng.random(cfg.items) < 0.95,
        }
    )


class _ItemSampler:
    """Samples items of given categories by popularity."""

    def __init__(self, catalog: pd.DataFrame, n_cat: int) -> None:
        self.items_by_cat = [np.flatnonzero(catalog["cat"].to_numpy() == c) for c in range(n_cat)]
        pop = catalog["popularity"].to_numpy()
        self.cum = []
        for idx in self.items_by_cat:
            w = pop[idx] / pop[idx].sum()
            self.cum.append(np.cumsum(w))

    def sample(self, rng: np.random.Generator, cats: np.ndarray) -> np.ndarray:
        out = np.empty(len(cats), dtype=np.int64)
        for c in np.unique(cats):
            sel = cats == c
            pos = np.searchsorted(self.cum[c], rng.random(sel.sum()) * self.cum[c][-1])
            out[sel] = self.items_by_cat[c][np.minimum(pos, len(self.items_by_cat[c]) - 1)]
        return out


def _utc_offsets(start: pd.Timestamp, weeks: int) -> np.ndarray:
    """Hours to add to local time to get UTC, per time zone and week (DST-aware)."""
    out = np.zeros((len(TIMEZONES), weeks))
    for z, (name, _) in enumerate(TIMEZONES):
        zone = zoneinfo.ZoneInfo(name)
        for w in range(weeks):
            moment = (start + pd.Timedelta(days=7 * w + 3)).to_pydatetime()
            off = moment.astimezone(zone).utcoffset() or dt.timedelta(0)
            out[z, w] = -off.total_seconds() / 3600
    return out


def generate(
    out_dir: str | Path, cfg: SyntheticConfig | None = None, progress: bool = False
) -> GenerationSummary:
    """Write the data set and its truth under ``out_dir``; deterministic for a config."""
    cfg = cfg or SyntheticConfig()
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for old in list(root.glob("*.csv")) + list(root.glob("*.parquet")) + list(root.glob("truth/*")):
        old.unlink()
    rng = np.random.default_rng([cfg.seed, 0])
    catalog = _catalog(rng, cfg)
    sampler = _ItemSampler(catalog, cfg.categories)
    start = pd.Timestamp(cfg.start, tz="UTC")
    weeks = int(np.ceil(cfg.days / 7))
    offsets = _utc_offsets(start, weeks)
    writer = _Writer(root, cfg.fmt)
    truth = _Writer(root / "truth", "parquet" if cfg.fmt == "parquet" else "csv")
    chunks = range(0, cfg.customers, cfg.chunk)
    iterator = chunks
    if progress:
        from tqdm import tqdm

        iterator = tqdm(chunks, desc="generate", unit="chunk")
    for chunk_no, first in enumerate(iterator):
        n = min(cfg.chunk, cfg.customers - first)
        crng = np.random.default_rng([cfg.seed, 1, chunk_no])
        _simulate_chunk(crng, cfg, catalog, sampler, start, weeks, offsets, first, n, writer, truth)
    items = catalog.assign(price=np.round(catalog["base_price"] * catalog["increase_factor"], 2))
    writer.write("items", items[["item_id", "category", "price", "in_stock"]])
    truth.write("items", catalog.drop(columns=["cat"]))
    writer.close()
    truth.close()
    return GenerationSummary(root, dict(writer.rows))


def _simulate_chunk(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    catalog: pd.DataFrame,
    sampler: _ItemSampler,
    start: pd.Timestamp,
    weeks: int,
    offsets: np.ndarray,
    first: int,
    n: int,
    writer: _Writer,
    truth: _Writer,
) -> None:
    days = float(cfg.days)
    cust_ids = np.array([f"C{first + i:07d}" for i in range(n)], dtype=object)
    signup = rng.uniform(-90, days * 0.5, n)
    act = rng.lognormal(0, 0.6, n)
    tz = rng.choice(len(TIMEZONES), n, p=[w for _, w in TIMEZONES])
    consent = rng.random((n, 4)) < CONSENT_RATE
    shop_hour = rng.uniform(8, 22, n)  # local hour of online shopping
    cats = catalog["cat"].to_numpy()
    consumable_cats = np.unique(cats[catalog["consumable"].to_numpy()])
    fav = rng.choice(cfg.categories, (n, 2))
    # staples
    k = np.clip(1 + rng.poisson(2.0 * np.sqrt(act)), 1, MAX_STAPLES)
    staple_mask = np.arange(MAX_STAPLES)[None, :] < k[:, None]
    staple_cat = np.where(
        np.isin(fav[:, np.arange(MAX_STAPLES) % 2], consumable_cats),
        fav[:, np.arange(MAX_STAPLES) % 2],
        rng.choice(consumable_cats, (n, MAX_STAPLES)),
    )
    staple_item = sampler.sample(rng, staple_cat.ravel()).reshape(n, MAX_STAPLES)
    cycle = catalog["cycle_days"].to_numpy()[staple_item] * rng.lognormal(0, 0.15, (n, MAX_STAPLES))
    next_due = np.maximum(signup, 0)[:, None] + rng.uniform(0, 1, (n, MAX_STAPLES)) * cycle
    staple_qty = 1 + rng.poisson(0.4, (n, MAX_STAPLES))
    # behaviour
    p_return = np.where(rng.random(n) < 0.15, 0.12, 0.02)
    price_sens = rng.uniform(0, 2, n)
    pref_channel = rng.choice(4, n, p=[0.4, 0.2, 0.25, 0.15])
    channel_mult = np.where(np.arange(4)[None, :] == pref_channel[:, None], 2.0, 0.6)
    peak_hour = rng.choice(np.arange(7, 23), n)
    weekend_pref = rng.random(n) < 0.3
    h0 = 0.003 * act**-0.5
    contact_rate = cfg.contact_rate * rng.uniform(0.2, 1.2, n)  # contacts per week sent
    lead_weeks = rng.integers(3, 9, n)
    state = np.zeros(n, dtype=np.int8)  # 0 engaged, 1 disengaging, 2 gone
    dis_week = np.full(n, -1)
    dis_drivers = np.zeros((n, len(DRIVERS)), dtype=bool)
    unsubscribed = np.zeros((n, 4), dtype=bool)
    hist_returns = np.zeros((n, weeks))
    hist_unanswered = np.zeros((n, weeks))
    hist_abandoned = np.zeros((n, weeks))
    paid = np.zeros((n, MAX_STAPLES))  # last price paid for each staple
    dearer_day = np.full((n, MAX_STAPLES), -np.inf)  # last time a staple cost more than before
    spell_until = np.full(n, -1)  # last week of an abandoned-cart spell
    item_price = catalog["base_price"].to_numpy()
    inc_day = catalog["increase_day"].to_numpy()
    inc_factor = catalog["increase_factor"].to_numpy()

    orders: list[tuple[np.ndarray, ...]] = []
    inter: list[tuple[np.ndarray, ...]] = []
    contacts: list[tuple[np.ndarray, ...]] = []
    idx = np.arange(n)
    for w in range(weeks):
        d0, d1 = 7.0 * w, min(7.0 * w + 7, days)
        if d0 >= days:
            break
        signed = signup < d1
        m = np.where(
            state == 0,
            1.0,
            np.where(state == 1, np.clip(1 - (w - dis_week) / lead_weeks, 0, 1), 0.0),
        )
        state[(state == 1) & (m <= 0)] = 2
        alive = signed & (state < 2)
        lo = np.maximum(d0, signup)

        def in_week(
            count: np.ndarray, lo: np.ndarray = lo, d1: float = d1
        ) -> tuple[np.ndarray, np.ndarray]:
            who = np.repeat(idx, count)
            return who, rng.uniform(lo[who], d1)

        # staples due this week
        due = (next_due < d1) & staple_mask & alive[:, None]
        ci, si = np.nonzero(due)
        bought = rng.random(len(ci)) < 0.97 * m[ci]
        day_b = np.maximum(next_due[ci, si], lo[ci])[bought]
        next_due[ci, si] += cycle[ci, si] * np.maximum(rng.normal(1, 0.08, len(ci)), 0.5)
        buy_c = ci[bought]
        buy_i = staple_item[ci, si][bought]
        buy_q = staple_qty[ci, si][bought]
        bc, bs = ci[bought], si[bought]
        staple_price = item_price[buy_i] * np.where(inc_day[buy_i] <= day_b, inc_factor[buy_i], 1)
        dearer = (paid[bc, bs] > 0) & (staple_price > paid[bc, bs] * 1.001)
        dearer_day[bc[dearer], bs[dearer]] = day_b[dearer]
        paid[bc, bs] = staple_price
        # exploration purchases (preceded by a view and a cart addition)
        ex_c, ex_day = in_week(rng.poisson(0.15 * act * m * alive))
        ex_i = sampler.sample(rng, fav[ex_c, rng.integers(0, 2, len(ex_c))])
        buy_c = np.concatenate([buy_c, ex_c])
        buy_i = np.concatenate([buy_i, ex_i])
        buy_q = np.concatenate([buy_q, np.ones(len(ex_c), dtype=np.int64)])
        buy_day = np.floor(np.concatenate([day_b, ex_day]))
        # order time: the customer's shopping hour, local -> UTC
        buy_t = buy_day + (shop_hour[buy_c] + offsets[tz[buy_c], w]) / 24
        price_now = item_price[buy_i] * np.where(inc_day[buy_i] <= buy_day, inc_factor[buy_i], 1.0)
        order_ids = np.char.add(
            np.char.add("O", (first + buy_c).astype(str)),
            np.char.add("-", buy_day.astype(np.int64).astype(str)),
        )
        orders.append((buy_c, order_ids, buy_i, buy_t, buy_q, np.round(price_now, 2)))
        view_before = np.maximum(buy_t[len(day_b) :] - rng.uniform(0.01, 2, len(ex_c)), lo[ex_c])
        inter.append((ex_c, ex_i, view_before, np.zeros(len(ex_c), np.int8)))
        inter.append((ex_c, ex_i, view_before + 0.005, np.full(len(ex_c), 1, np.int8)))
        # returns = service problems
        ret = rng.random(len(buy_c)) < p_return[buy_c]
        r_c, r_i, r_day = buy_c[ret], buy_i[ret], buy_day[ret] + rng.integers(3, 11, ret.sum())
        keep = r_day < days
        r_c, r_i, r_day = r_c[keep], r_i[keep], r_day[keep]
        r_ids = np.char.add(
            np.char.add("R", (first + r_c).astype(str)),
            np.char.add("-", r_day.astype(np.int64).astype(str)),
        )
        orders.append(
            (
                r_c,
                r_ids,
                r_i,
                r_day + 0.5,
                -np.ones(len(r_c), dtype=np.int64),
                np.round(item_price[r_i], 2),
            )
        )
        np.add.at(hist_returns[:, w], r_c, 1)
        # browsing
        v_c, v_day = in_week(rng.poisson(2.5 * act * m * alive))
        from_fav = rng.random(len(v_c)) < 0.7
        v_cat = np.where(
            from_fav,
            fav[v_c, rng.integers(0, 2, len(v_c))],
            rng.integers(0, cfg.categories, len(v_c)),
        )
        v_i = sampler.sample(rng, v_cat)
        inter.append((v_c, v_i, v_day, np.zeros(len(v_c), np.int8)))
        # carts left without buying: a few now and then, many during a bad spell
        frustration = 1 + price_sens * 0.5
        starts = (spell_until < w) & alive & (rng.random(n) < 0.02 * frustration)
        spell_until[starts] = w + rng.integers(1, 4, starts.sum())
        spell = spell_until >= w
        a_c, a_day = in_week(rng.poisson((0.05 * act + 1.5 * spell) * m * alive))
        a_i = sampler.sample(rng, fav[a_c, rng.integers(0, 2, len(a_c))])
        inter.append((a_c, a_i, a_day, np.full(len(a_c), 1, np.int8)))
        rem = rng.random(len(a_c)) < 0.4
        inter.append((a_c[rem], a_i[rem], a_day[rem] + 0.01, np.full(rem.sum(), 2, np.int8)))
        np.add.at(hist_abandoned[:, w], a_c, 1)
        wl_c, wl_day = in_week(rng.poisson(0.12 * act * m * alive))
        inter.append(
            (wl_c, sampler.sample(rng, fav[wl_c, 0]), wl_day, np.full(len(wl_c), 3, np.int8))
        )
        s_c, s_day = in_week(rng.poisson(0.6 * act * m * alive))
        inter.append((s_c, np.full(len(s_c), -1), s_day, np.full(len(s_c), 4, np.int8)))
        # contacts from the business (also to customers who left: they just do not answer)
        c_c, _ = in_week(rng.poisson(contact_rate * signed))
        allowed = consent[c_c] & ~unsubscribed[c_c]
        mix = allowed * BUSINESS_CHANNEL_MIX
        has = mix.sum(axis=1) > 0
        c_c, mix = c_c[has], mix[has]
        ch = (rng.random(len(c_c))[:, None] > np.cumsum(mix / mix.sum(1, keepdims=True), 1)).sum(1)
        ch = np.minimum(ch, 3)
        local_day = np.floor(rng.uniform(np.maximum(d0, np.ceil(signup[c_c])), d1))
        local_hour = rng.integers(8, 22, len(c_c))
        sent = local_day + (local_hour + offsets[tz[c_c], w]) / 24
        dow = (start.day_of_week + local_day.astype(np.int64)) % 7
        weekend = dow >= 5
        hour_fit = np.exp(-((local_hour - peak_hour[c_c]) ** 2) / (2 * 1.5**2))
        day_fit = np.where(weekend == weekend_pref[c_c], 1.0, 0.4)
        p_open = np.clip(
            CHANNEL_BASE_RESPONSE[ch]
            * channel_mult[c_c, ch]
            * (0.25 + 0.75 * hour_fit * day_fit)
            * (m[c_c] * alive[c_c]),
            0,
            0.95,
        )
        opened = rng.random(len(c_c)) < p_open
        open_t = np.where(opened, sent + rng.exponential(0.08, len(c_c)), np.nan)
        clicked = opened & (rng.random(len(c_c)) < 0.35)
        click_t = np.where(clicked, open_t + rng.exponential(0.01, len(c_c)), np.nan)
        conv = clicked & (rng.random(len(c_c)) < 0.25)
        conv_t = np.where(conv, click_t + rng.exponential(0.05, len(c_c)), np.nan)
        recent_contacts = hist_unanswered[:, max(0, w - 4) : w].sum(1)
        unsub = ~opened & (rng.random(len(c_c)) < 0.004 + 0.02 * (recent_contacts[c_c] > 3))
        unsub_t = np.where(unsub, sent + rng.uniform(0.01, 1, len(c_c)), np.nan)
        unsubscribed[c_c[unsub], ch[unsub]] = True
        contacts.append((c_c, ch, sent, open_t, click_t, conv_t, unsub_t))
        np.add.at(hist_unanswered[:, w], c_c[~opened], 1)
        # churn hazard from observable signals
        returns8 = hist_returns[:, max(0, w - 7) : w + 1].sum(1) > 0
        staple_inc = ((dearer_day > d1 - 84) & staple_mask).sum(1)
        price_exp = staple_inc * price_sens
        unanswered4 = hist_unanswered[:, max(0, w - 3) : w + 1].sum(1)
        abandoned4 = hist_abandoned[:, max(0, w - 3) : w + 1].sum(1)
        drivers = np.stack([returns8, price_exp > 0.5, unanswered4 >= 3, abandoned4 >= 3], 1)
        hazard = h0 * np.exp(
            1.4 * returns8
            + 1.2 * np.minimum(price_exp, 2)
            + 0.3 * np.minimum(unanswered4, 6)
            + 0.6 * (abandoned4 >= 3)
        )
        start_dis = (state == 0) & alive & (rng.random(n) < hazard)
        state[start_dis] = 1
        dis_week[start_dis] = w
        dis_drivers[start_dis] = drivers[start_dis]

    def ts(day: np.ndarray) -> pd.Series:
        return pd.Series(start + pd.to_timedelta(np.round(day * 86400), unit="s"))

    o = [np.concatenate(parts) for parts in zip(*orders, strict=True)]
    sort = np.lexsort((o[1], o[3]))
    writer.write(
        "orders",
        pd.DataFrame(
            {
                "customer_id": cust_ids[o[0][sort]],
                "order_id": o[1][sort],
                "item_id": catalog["item_id"].to_numpy()[o[2][sort]],
                "timestamp": ts(o[3][sort]),
                "quantity": o[4][sort],
                "unit_price": o[5][sort],
            }
        ),
    )
    it = [np.concatenate(parts) for parts in zip(*inter, strict=True)]
    ok = it[2] < days
    it = [a[ok] for a in it]
    sort = np.argsort(it[2], kind="stable")
    item_ids = np.where(it[1] >= 0, catalog["item_id"].to_numpy()[np.maximum(it[1], 0)], "")
    types = np.array(["view", "add_to_cart", "remove_from_cart", "wishlist", "search"])
    writer.write(
        "interactions",
        pd.DataFrame(
            {
                "customer_id": cust_ids[it[0][sort]],
                "item_id": item_ids[sort],
                "timestamp": ts(it[2][sort]),
                "type": types[it[3][sort]],
            }
        ),
    )
    c = [np.concatenate(parts) for parts in zip(*contacts, strict=True)]
    ok = c[2] < days
    c = [a[ok] for a in c]
    sort = np.argsort(c[2], kind="stable")
    c = [a[sort] for a in c]
    writer.write(
        "contacts",
        pd.DataFrame(
            {
                "customer_id": cust_ids[c[0]],
                "contact_id": [f"K{first:07d}-{i}" for i in range(len(c[0]))],
                "channel": np.array(CHANNELS)[c[1]],
                "sent_at": ts(c[2]),
                "purpose": "promotion",
                **{
                    name: ts(np.where(c[j] < days, c[j], np.nan))
                    for name, j in (
                        ("opened_at", 3),
                        ("clicked_at", 4),
                        ("converted_at", 5),
                        ("unsubscribed_at", 6),
                    )
                },
            }
        ),
    )
    tz_names = np.array([name for name, _ in TIMEZONES])
    writer.write(
        "customers",
        pd.DataFrame(
            {
                "customer_id": cust_ids,
                "signup_at": ts(signup),
                "timezone": tz_names[tz],
                # a marketing segment: the customer's region (no extra random draw)
                "segment": [name.split("/", 1)[0].lower() for name in tz_names[tz]],
                **{f"consent_{ch}": consent[:, i] for i, ch in enumerate(CHANNELS)},
            }
        ),
    )
    dis_day = np.where(dis_week >= 0, dis_week * 7.0, np.nan)
    truth.write(
        "customers",
        pd.DataFrame(
            {
                "customer_id": cust_ids,
                "activity": act,
                "disengage_at": ts(dis_day),
                "gone_at": ts(dis_day + lead_weeks * 7.0),
                "lead_weeks": lead_weeks,
                **{f"driver_{d}": dis_drivers[:, i] for i, d in enumerate(DRIVERS)},
                "return_prone": p_return > 0.05,
                "price_sensitivity": price_sens,
                "best_channel": np.array(CHANNELS)[pref_channel],
                "best_local_hour": peak_hour,
                "prefers_weekend": weekend_pref,
            }
        ),
    )
    ci, si = np.nonzero(staple_mask)
    truth.write(
        "staples",
        pd.DataFrame(
            {
                "customer_id": cust_ids[ci],
                "item_id": catalog["item_id"].to_numpy()[staple_item[ci, si]],
                "cycle_days": cycle[ci, si],
            }
        ),
    )
