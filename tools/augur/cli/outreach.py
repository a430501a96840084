"""`augur outreach ...`: plan campaigns against the running stack, write the schedule,
manage trigger rules and deliveries, and report a campaign's uplift."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from augur.churn.v1 import churn_pb2
from augur.common.errors import AugurError
from augur.common.v1 import common_pb2
from augur.contact.v1 import contact_pb2
from augur.gateway.v1 import gateway_pb2

CSV_COLUMNS = (
    "campaign",
    "arm",
    "customer_id",
    "contact_id",
    "channel",
    "send_at_local",
    "send_at_utc",
    "probability",
    "value_at_risk",
    "risk_band",
    "cost",
    "reasons",
    "items",
)


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix) if value else ""


def schedule_rows(response: gateway_pb2.PlanOutreachResponse) -> list[dict[str, Any]]:
    """One flat row per planned customer (both arms), as written to CSV and JSON lines."""
    rows = []
    for c in response.contacts:
        treated = c.HasField("option")
        rows.append(
            {
                "campaign": c.campaign,
                "arm": _name(contact_pb2.Arm, c.arm, "ARM_").lower(),
                "customer_id": c.customer_id,
                "contact_id": c.contact_id,
                "channel": _name(common_pb2.Channel, c.option.channel, "CHANNEL_").lower()
                if treated
                else "",
                "send_at_local": c.option.send_at_local if treated else "",
                "send_at_utc": c.option.send_at.ToJsonString() if treated else "",
                "probability": round(c.probability, 4),
                "value_at_risk": round(c.value_at_risk, 2),
                "risk_band": _name(churn_pb2.RiskBand, c.risk_band, "RISK_BAND_").lower(),
                "cost": c.cost,
                "reasons": [r.text for r in c.reasons],
                "items": [i.item_id for i in c.items],
            }
        )
    return rows


def write_schedule(
    response: gateway_pb2.PlanOutreachResponse, campaign: str, out: Path
) -> tuple[Path, Path]:
    """``<campaign>-<day>.csv`` and ``.jsonl``, each written whole then renamed."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{campaign}-{response.plan_day}"
    rows = schedule_rows(response)
    csv_path, jsonl_path = stem.with_suffix(".csv"), stem.with_suffix(".jsonl")
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**row, "reasons": " | ".join(row["reasons"]), "items": " ".join(row["items"])}
            )
    tmp.replace(csv_path)
    tmp = jsonl_path.with_suffix(".jsonl.tmp")
    with tmp.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    tmp.replace(jsonl_path)
    return csv_path, jsonl_path


def request_of(args: argparse.Namespace) -> gateway_pb2.PlanOutreachRequest:
    request = gateway_pb2.PlanOutreachRequest(
        campaign=args.campaign,
        min_probability=args.min_probability,
        min_value_at_risk=args.min_value_at_risk,
        max_contacts=args.max_contacts,
        max_total_cost=args.max_cost,
        holdout_share=args.holdout_share,
        items_per_contact=args.items,
        window_days=args.window_days,
        dry_run=args.dry_run,
        deliver=args.deliver,
        segments=args.segment or [],
    )
    for band in args.band or []:
        request.risk_bands.append(churn_pb2.RiskBand.Value(f"RISK_BAND_{band.upper()}"))  # type: ignore[arg-type]
    for spec in args.cost or []:
        channel, _, cost = spec.partition("=")
        try:
            value = common_pb2.Channel.Value(f"CHANNEL_{channel.upper()}")
            request.channel_costs.add(channel=value, cost=float(cost))
        except ValueError:
            raise AugurError(f"--cost {spec!r}: expected CHANNEL=COST, e.g. email=0.02") from None
    if args.date:
        try:
            day = datetime.fromisoformat(args.date).replace(tzinfo=UTC)
        except ValueError:
            raise AugurError(f"--date {args.date!r}: expected YYYY-MM-DD") from None
        request.plan_date.FromDatetime(day)
    return request


async def _run_plan(request: gateway_pb2.PlanOutreachRequest) -> gateway_pb2.PlanOutreachResponse:
    from augur.common.settings import GatewaySettings, load_settings
    from augur.devtools.runtime import LocalStack
    from augur.features.store import RedisFeatureStore
    from augur.gateway.backends import Backends
    from augur.gateway.planning import planner_over

    stack = LocalStack.from_env()
    state = stack.running()
    if state is None:
        raise AugurError("the local stack is not running: start it with `augur up`")
    settings = load_settings(
        GatewaySettings,
        gateway_backends=stack.backends_of(state),
        redis_url=state.redis_url,
        redis_prefix=state.redis_prefix,
    )
    store = RedisFeatureStore.from_settings(settings)
    backends = Backends(settings)
    try:
        return await planner_over(backends, store).plan(request)
    finally:
        await backends.close()
        store.close()


def print_plan(response: gateway_pb2.PlanOutreachResponse, dry_run: bool) -> None:
    what = "dry run (nothing reserved)" if dry_run else "plan"
    if response.replayed:
        what = "plan made earlier, returned unchanged (nothing new reserved)"
    print(f"{what} for {response.plan_day}")
    print(
        f"  treatment {response.treatment}, holdout {response.holdout}, "
        f"total cost {response.total_cost:.2f}"
    )
    for count in response.counts:
        print(f"  {count.key:40s} {count.count:>8d}")


def plan(args: argparse.Namespace) -> int:
    request = request_of(args)
    response = asyncio.run(_run_plan(request))
    print_plan(response, args.dry_run)
    if not args.dry_run:
        csv_path, jsonl_path = write_schedule(response, args.campaign, args.out)
        print(f"schedule: {csv_path} and {jsonl_path}")
    return 0


def _store():  # type: ignore[no-untyped-def]
    from augur.common.settings import FeatureSettings, load_settings
    from augur.features.store import RedisFeatureStore

    return RedisFeatureStore.from_settings(load_settings(FeatureSettings))


def report(args: argparse.Namespace) -> int:
    from augur.outreach.report import campaign_report, write_report

    store = _store()
    result = campaign_report(store.client, store.keys, args.campaign, args.window_days)
    json_path, png = write_report(result, args.out)
    print(
        f"campaign {result['campaign']}: {result['customers']} customers, "
        f"window {args.window_days} d"
    )
    print(f"  {'group':22s} {'treated':>16s} {'holdout':>16s} {'uplift (CI)':>28s}  cost/retained")
    for g in result["groups"]:
        t, h = g["treated"], g["holdout"]
        ci = f"{g['absolute_uplift']:+.1%} ({g['ci_low']:+.1%}..{g['ci_high']:+.1%})"
        cpr = g["cost_per_retained_customer"]
        print(
            f"  {g['group']:22s} {t['retained']:>5d}/{t['customers']:<5d}{t['rate']:>5.1%} "
            f"{h['retained']:>5d}/{h['customers']:<5d}{h['rate']:>5.1%} {ci:>28s}  "
            f"{'' if cpr is None else f'{cpr:.2f}'}"
        )
        if not g["conclusive"]:
            print(f"  {'':22s} {g['note']}")
    for note in result["notes"]:
        print(f"  note: {note}")
    print(f"report: {json_path} and {png}")
    return 0


def trigger(args: argparse.Namespace) -> int:
    from augur.outreach.triggers import TriggerRule, TriggerRules

    store = _store()
    rules = TriggerRules(store.client, store.keys.outreach("rules"))
    if args.action == "set":
        if args.campaign is None or args.threshold is None:
            raise AugurError("trigger set needs --campaign and --threshold")
        rule = TriggerRule(args.campaign, args.threshold, args.cooldown_days * 86400, args.webhook)
        rules.set(rule)
        print(f"trigger rule set: {rule}")
    elif args.action == "delete":
        rules.delete(args.campaign or "")
        print(f"trigger rule of {args.campaign} deleted")
    else:
        for rule in rules.all():
            print(
                f"{rule.campaign:24s} threshold {rule.threshold:.2f}  cool-down "
                f"{rule.cooldown_seconds / 86400:g} d  webhook {'yes' if rule.webhook else 'no'}"
            )
    return 0


def deliveries(args: argparse.Namespace) -> int:
    from augur.outreach.delivery import DeliveryQueue

    store = _store()
    queue = DeliveryQueue(store.client, store.keys)
    if args.action == "requeue-dead":
        print(f"{queue.requeue_dead(time.time())} dead letters queued again")
        return 0
    if args.action == "dead":
        for delivery_id, why in sorted(queue.dead_letters().items()):
            print(f"{delivery_id}  {why['error']}")
        return 0
    queued, inflight, dead = queue.depth()
    print(f"queued {queued}, in flight {inflight}, dead letters {dead}")
    return 0


def run(args: argparse.Namespace) -> int:
    handlers = {"plan": plan, "report": report, "trigger": trigger, "deliveries": deliveries}
    try:
        return handlers[args.outreach_command](args)
    except AugurError as exc:
        print(f"augur outreach: {exc.message}", file=sys.stderr)
        return 2


def add_parser(sub: Any) -> None:
    outreach = sub.add_parser("outreach", help="retention outreach: plan, report, triggers")
    osub = outreach.add_subparsers(dest="outreach_command", required=True)
    p = osub.add_parser("plan", help="plan a campaign day from the at-risk snapshot")
    p.add_argument("--campaign", required=True)
    p.add_argument("--date", default=None, help="YYYY-MM-DD (UTC); default today")
    p.add_argument("--min-probability", type=float, default=0.0)
    p.add_argument("--min-value-at-risk", type=float, default=0.0)
    p.add_argument("--max-contacts", type=int, default=0, help="0: no limit")
    p.add_argument("--max-cost", type=float, default=0.0, help="0: no limit")
    p.add_argument("--cost", action="append", help="CHANNEL=COST, e.g. sms=0.05 (repeatable)")
    p.add_argument("--holdout-share", type=float, default=0.0, help="0: the campaign's share")
    p.add_argument("--band", action="append", choices=["low", "medium", "high"])
    p.add_argument("--segment", action="append", help="customers' segment (repeatable)")
    p.add_argument("--items", type=int, default=3, help="recommended items per contact")
    p.add_argument("--window-days", type=int, default=1)
    p.add_argument("--deliver", action="store_true", help="queue contacts for the webhook")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--out", type=Path, default=Path(".augur/outreach"))
    p = osub.add_parser("report", help="treated vs holdout uplift of a campaign, with a chart")
    p.add_argument("campaign")
    p.add_argument("--window-days", type=int, default=30)
    p.add_argument("--out", type=Path, default=Path(".augur/outreach"))
    p = osub.add_parser("trigger", help="real-time trigger rules: set, list, delete")
    p.add_argument("action", choices=["set", "list", "delete"])
    p.add_argument("--campaign", default=None)
    p.add_argument("--threshold", type=float, default=None, help="churn probability")
    p.add_argument("--cooldown-days", type=float, default=14.0)
    p.add_argument("--webhook", action="store_true", help="also queue each trigger for the webhook")
    p = osub.add_parser("deliveries", help="the webhook delivery queue: status, dead, requeue-dead")
    p.add_argument(
        "action", choices=["status", "dead", "requeue-dead"], nargs="?", default="status"
    )
    outreach.set_defaults(func=run)
