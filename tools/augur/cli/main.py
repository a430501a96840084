"""The `augur` command line: data, features, services, local stack, demo, benchmarks.

Heavy imports happen inside each command so `augur --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _generate(args: argparse.Namespace) -> int:
    from augur.training.data.synthetic import SyntheticConfig, generate

    cfg = SyntheticConfig(
        customers=args.customers,
        items=args.items,
        days=args.days,
        seed=args.seed,
        fmt=args.format,
        start=args.start,
    )
    started = time.perf_counter()
    summary = generate(args.out, cfg, progress=not args.quiet)
    elapsed = time.perf_counter() - started
    rows = ", ".join(f"{k} {v:,}" for k, v in summary.rows.items())
    print(f"wrote {args.out}: {rows}; {summary.events:,} events in {elapsed:.1f} s")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from augur.training.data.loader import DataError, iter_table, table_files

    try:
        counts = {
            name: sum(len(chunk) for chunk in iter_table(file, name)) if file else 0
            for name, file in table_files(args.data).items()
        }
    except DataError as exc:
        print(f"invalid data: {exc}", file=sys.stderr)
        return 2
    for name, rows in counts.items():
        print(f"{name:13s} {rows:>12,} rows")
    return 0


def _materialise(args: argparse.Namespace) -> int:
    import pandas as pd

    from augur.common.settings import FeatureSettings, load_settings
    from augur.features.store import RedisFeatureStore
    from augur.training.data.loader import DataError
    from augur.training.offline.materialise import load_online

    settings = load_settings(FeatureSettings)
    try:
        loaded = load_online(
            args.data,
            RedisFeatureStore.from_settings(settings),
            pd.Timestamp(args.as_of) if args.as_of else None,
        )
    except DataError as exc:
        print(f"invalid data: {exc}", file=sys.stderr)
        return 2
    rows, seconds = loaded.customers, loaded.written_s
    print(
        f"features of {rows:,} customers as of {pd.Timestamp(loaded.as_of, unit='s', tz='UTC')}: "
        f"computed in {loaded.computed_s:.2f} s, written in {seconds:.2f} s "
        f"({rows / max(seconds, 1e-9):,.0f} customers/s) under prefix '{settings.redis_prefix}'; "
        f"contact state (consent, time zone, engagement profile) of {loaded.contacted:,} customers"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    if args.service == "features":
        from augur.ingest.main import serve
    elif args.service == "churn":
        from augur.churn.main import serve
    elif args.service == "recommend":
        from augur.recommend.main import serve
    elif args.service == "contact":
        from augur.contact.main import serve
    elif args.service == "gateway":
        from augur.gateway.main import serve
    elif args.service == "outreach":
        from augur.outreach.main import serve
    else:
        print(f"service '{args.service}' is not available yet", file=sys.stderr)
        return 2
    serve()
    return 0


def _model_settings():  # type: ignore[no-untyped-def]
    from augur.common.settings import ServerSettings, load_settings

    return load_settings(ServerSettings)


def _train(args: argparse.Namespace) -> int:
    from augur.training.data.loader import DataError

    settings = _model_settings()
    try:
        if args.kind == "churn":
            from augur.training.churn.report import print_churn_report
            from augur.training.churn.train import ChurnConfig, train_churn

            print_churn_report(
                train_churn(
                    args.data,
                    settings.mlflow_tracking_uri,
                    settings.state_dir,
                    ChurnConfig(
                        horizon_days=args.horizon_days,
                        train_cutoffs=args.train_cutoffs,
                        cutoff_step_days=args.cutoff_step_days,
                        dask=args.dask or "",
                    ),
                )
            )
        elif args.kind == "recommend":
            from augur.training.recommend.pipeline import train_recommend
            from augur.training.recommend.report import print_recommend_report

            print_recommend_report(
                train_recommend(args.data, settings.mlflow_tracking_uri, settings.state_dir)
            )
        else:
            from augur.training.contact.pipeline import train_contact
            from augur.training.contact.report import print_contact_report
            from augur.training.contact.train import ContactConfig

            print_contact_report(
                train_contact(
                    args.data,
                    settings.mlflow_tracking_uri,
                    settings.state_dir,
                    ContactConfig(dask=args.dask or ""),
                )
            )
    except DataError as exc:
        print(f"invalid data: {exc}", file=sys.stderr)
        return 2
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from augur.features.store import RedisFeatureStore
    from augur.training.data.loader import DataError
    from augur.training.retrain import print_summary, retrain_all

    settings = _model_settings()
    store = None if args.no_redis else RedisFeatureStore.from_settings(settings)
    try:
        summary = retrain_all(
            args.data, settings.mlflow_tracking_uri, settings.state_dir, store, progress=True
        )
    except DataError as exc:
        print(f"invalid data: {exc}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0 if summary.ok else 1


def _models(args: argparse.Namespace) -> int:
    from augur.training import registry

    settings = _model_settings()
    registry.configure(settings.mlflow_tracking_uri, settings.state_dir, f"augur-{args.kind}")
    name = registry.model_name(args.kind)
    if args.action == "promote":
        from mlflow import MlflowClient

        version = args.version or max(
            (v.version for v in MlflowClient().search_model_versions(f"name='{name}'")),
            key=int,
            default=None,
        )
        if version is None:
            print(f"{name} has no registered version", file=sys.stderr)
            return 1
        previous = registry.promote(name, str(version))
        print(f"{name}@champion: {previous} -> {version}")
    elif args.action == "rollback":
        try:
            old, new = registry.rollback(name)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"{name}@champion: {old} -> {new}")
    else:
        from mlflow import MlflowClient

        champion = registry.champion_version(name)
        challenger = registry.alias_version(name, registry.CHALLENGER)
        for v in sorted(
            MlflowClient().search_model_versions(f"name='{name}'"), key=lambda v: int(v.version)
        ):
            # MLflow gives the version as an int here and the alias lookup as a str
            mark = " <- champion" if str(v.version) == str(champion) else ""
            if not mark and str(v.version) == str(challenger):
                mark = " <- challenger (refused by the gate)"
            print(f"{name} v{v.version}  {v.tags.get('gate', '')}{mark}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from augur.features.store import RedisFeatureStore
    from augur.training.retrain import score_all

    settings = _model_settings()
    started = time.perf_counter()
    scored = score_all(
        settings.mlflow_tracking_uri,
        settings.state_dir,
        RedisFeatureStore.from_settings(settings),
    )
    if scored is None:
        print("no churn champion yet: run `augur train churn --data DIR`", file=sys.stderr)
        return 1
    _, version, (snapshot, count) = scored
    seconds = time.perf_counter() - started
    print(
        f"at-risk snapshot {snapshot}: {count:,} customers scored with augur-churn v{version} "
        f"in {seconds:.1f} s ({count / max(seconds, 1e-9):,.0f}/s)"
    )
    return 0


def _consume(args: argparse.Namespace) -> int:
    from augur.ingest.main import consume

    consume(args.shard, args.metrics_port)
    return 0


def _up(args: argparse.Namespace) -> int:
    from augur.devtools.runtime import LocalStack

    return LocalStack.from_env().up()


def _down(args: argparse.Namespace) -> int:
    from augur.devtools.runtime import LocalStack

    return LocalStack.from_env().down()


def _status(args: argparse.Namespace) -> int:
    from augur.devtools.runtime import LocalStack

    return LocalStack.from_env().status()


def _demo(args: argparse.Namespace) -> int:
    from augur.devtools.demo import run_demo

    return run_demo(customers=args.customers)


def _keys(args: argparse.Namespace) -> int:
    from augur.common.errors import AugurError
    from augur.common.settings import FeatureSettings, load_settings
    from augur.features.store import RedisFeatureStore
    from augur.gateway.keys import KeyStore

    keys = KeyStore(RedisFeatureStore.from_settings(load_settings(FeatureSettings)))
    try:
        if args.action == "create":
            key, token = keys.create(args.name or "", args.scope or [])
            print(f"created API key {key.key_id} ({key.name}), scopes {', '.join(key.scopes)}")
            print(f"token (shown once, store it now): {token}")
        elif args.action == "revoke":
            key = keys.revoke(args.id or "")
            print(f"revoked API key {key.key_id} ({key.name})")
        else:
            for key in keys.list():
                state = "revoked" if key.revoked else "active"
                print(f"{key.key_id}  {key.name:20s} {state:8s} {','.join(key.scopes)}")
    except AugurError as exc:
        print(f"augur keys: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _health(args: argparse.Namespace) -> int:
    """Exit 0 when the service on the port answers SERVING (container health checks)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from augur.common.settings import ServerSettings, load_settings

    port = args.port or load_settings(ServerSettings).grpc_port
    with grpc.insecure_channel(f"{args.host}:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as exc:
            print(f"{args.host}:{port}: {exc.code().name}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{args.host}:{port}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def _chaos(args: argparse.Namespace) -> int:
    from augur.devtools.chaos.run import run_chaos

    only = tuple(s for s in args.only.split(",") if s)
    reports = run_chaos(args.root, args.customers, only)
    return 0 if reports and all(r.ok for r in reports) else 1


def _soak(args: argparse.Namespace) -> int:
    from augur.devtools.bench.soak import run_soak

    return run_soak(args.minutes, args.rate, args.root)


def _bench(args: argparse.Namespace) -> int:
    from augur.devtools.bench.run import run_bench

    return run_bench(duration=args.duration, only=args.only)


def _eval(args: argparse.Namespace) -> int:
    from augur.devtools.evaluation.run import run_eval

    return run_eval(_model_settings().redis_url, only=args.only)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="augur", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write a seeded synthetic event log with ground truth")
    p.add_argument("--out", type=Path, default=Path(".augur/data"))
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", default="2025-01-06", help="first day (UTC)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_generate)

    p = sub.add_parser("validate", help="check a data directory against the data contract")
    p.add_argument("--data", type=Path, required=True)
    p.set_defaults(func=_validate)

    feats = sub.add_parser("features", help="feature store commands")
    fsub = feats.add_subparsers(dest="features_command", required=True)
    p = fsub.add_parser("materialise", help="compute features as of a time and load them to Redis")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--as-of", default=None, help="ISO-8601 time; default: the last order")
    p.set_defaults(func=_materialise)

    p = sub.add_parser("serve", help="run a gRPC service (settings from AUGUR_* variables)")
    p.add_argument(
        "service", choices=["features", "churn", "recommend", "contact", "gateway", "outreach"]
    )
    p.set_defaults(func=_serve)

    p = sub.add_parser("train", help="train, evaluate, register (and promote if it passes)")
    p.add_argument("kind", choices=["churn", "recommend", "contact"])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--horizon-days", type=int, default=90, help="churn label horizon H")
    p.add_argument(
        "--train-cutoffs",
        type=int,
        default=0,
        help="churn: training cutoffs (default 0: as many as the data's span allows, at most 12)",
    )
    p.add_argument(
        "--cutoff-step-days",
        type=int,
        default=0,
        help="churn: days between training cutoffs (default 0: a third of the horizon, 7 to 30)",
    )
    p.add_argument(
        "--dask",
        default=None,
        help="churn, contact: train LightGBM on Dask ('local:N' workers or a scheduler address)",
    )
    p.set_defaults(func=_train)

    p = sub.add_parser("retrain", help="retrain, gate and promote all three models, then drift")
    p.add_argument("--all", action="store_true", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--no-redis", action="store_true", help="skip the snapshot and drift")
    p.set_defaults(func=_retrain)

    p = sub.add_parser("models", help="registry: list, promote or roll back the champion")
    p.add_argument("action", choices=["list", "promote", "rollback"])
    p.add_argument("kind", choices=["churn", "recommend", "contact"])
    p.add_argument("--version", default=None, help="promote: version (default: latest)")
    p.set_defaults(func=_models)

    p = sub.add_parser("score", help="batch-score every customer into the at-risk snapshot")
    p.add_argument("--all", action="store_true", required=True)
    p.set_defaults(func=_score)

    p = sub.add_parser("consume", help="run the ingestion consumer of one stream shard")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--metrics-port", type=int, default=None)
    p.set_defaults(func=_consume)

    for name, func, text in (
        ("up", _up, "start the local stack"),
        ("down", _down, "stop what `augur up` started"),
        ("status", _status, "show the local stack"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=func)

    p = sub.add_parser("demo", help="the main job on embedded defaults, end to end")
    p.add_argument("--customers", type=int, default=2000)
    p.set_defaults(func=_demo)

    p = sub.add_parser("keys", help="gateway API keys: create, revoke, list (stored hashed)")
    p.add_argument("action", choices=["create", "revoke", "list"])
    p.add_argument("--name", default=None, help="create: who the key is for")
    p.add_argument(
        "--scope", action="append", help="create: admin, a service, or service.Rpc (repeatable)"
    )
    p.add_argument("--id", default=None, help="revoke: the key id")
    p.set_defaults(func=_keys)

    from augur.cli.outreach import add_parser as add_outreach

    add_outreach(sub)

    p = sub.add_parser("health", help="exit 0 when a service answers SERVING (health checks)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: AUGUR_GRPC_PORT")
    p.add_argument("--service", default="", help="health service name; empty: the server")
    p.add_argument("--timeout", type=float, default=2.0)
    p.set_defaults(func=_health)

    p = sub.add_parser("chaos", help="break a stack of its own in four ways; report what happens")
    p.add_argument("--root", type=Path, default=Path(".chaos"))
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--only", default="consumer,redis,mlflow,backend")
    p.set_defaults(func=_chaos)

    p = sub.add_parser("soak", help="mixed load through the gateway; latency and memory per minute")
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--rate", type=float, default=200.0, help="calls per second")
    p.add_argument("--root", type=Path, default=Path(".soak"))
    p.set_defaults(func=_soak)

    p = sub.add_parser("bench", help="benchmarks; prints figures, writes .bench/results.json")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per open-loop scenario")
    p.add_argument("--only", default=None, help="comma-separated scenario names")
    p.set_defaults(func=_bench)

    p = sub.add_parser(
        "eval", help="real public purchase logs (development half): Augur against baselines"
    )
    p.add_argument(
        "--only",
        action="append",
        choices=["complete-journey", "cdnow"],
        help="one data set (repeatable); EVALUATION.md is written by a whole run only",
    )
    p.set_defaults(func=_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("augur.devtools"):
            raise
        print(
            f"augur {args.command}: the developer tools (local stack, demo, benchmarks, chaos) "
            "are not installed here (the serving image leaves them out); run it from a checkout",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:
        from augur.common.settings import SettingsError

        if isinstance(exc, SettingsError):
            print(f"augur: {exc}", file=sys.stderr)
            return 2
        raise
