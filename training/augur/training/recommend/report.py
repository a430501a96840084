"""The summary table printed at the end of a recommender training run."""

from __future__ import annotations

from augur.training.recommend.anticipation import VALIDATION_DAYS
from augur.training.recommend.pipeline import SCORERS
from augur.training.registry import TrainReport


def print_recommend_report(report: TrainReport, k: int = 10) -> None:
    m = report.metrics
    print(
        f"\nrecommend model: registered version {report.version} (run {report.run_id}) "
        f"in {report.seconds:.1f} s; {report.rows}"
    )
    print(
        f"{'scorer':11s} {'NDCG all':>9s} {'NDCG rep':>9s} {'NDCG new':>9s} "
        f"{'P@' + str(k):>7s} {'R@' + str(k):>7s} {'MAP@' + str(k):>7s} {'cover':>7s}"
    )
    for s in SCORERS:
        print(
            f"{s:11s} {m[f'{s}_all_ndcg@{k}']:9.4f} {m[f'{s}_repeat_ndcg@{k}']:9.4f} "
            f"{m[f'{s}_new_ndcg@{k}']:9.4f} {m[f'{s}_all_precision@{k}']:7.4f} "
            f"{m[f'{s}_all_recall@{k}']:7.4f} {m[f'{s}_all_map@{k}']:7.4f} "
            f"{m[f'{s}_coverage@{k}']:7.3f}"
        )
    if "repeat_share" in m:
        shares = ", ".join(
            f"{key.removeprefix('blend_ndcg_at_share_')}: {v:.4f}"
            for key, v in m.items()
            if key.startswith("blend_ndcg_at_share_")
        )
        print(
            f"repeat slots: {m['repeat_share']:.0%} of each list, chosen on the test window "
            f"(blend NDCG@{k} by share {shares})"
        )
    print(blend_line(m))
    print(repeat_order_line(m))
    tried = {
        k.removeprefix("explore_new_ndcg_"): v
        for k, v in m.items()
        if k.startswith("explore_new_ndcg_")
    }
    if tried:
        print(
            "ALS confidence chosen on the test window by explore NDCG on new items: "
            + ", ".join(f"{name} {value:.4f}" for name, value in tried.items())
        )
    if "anticipate_ece" in m:
        print(
            f"AnticipateNext calibrated on the last {VALIDATION_DAYS} days of the data: at "
            f"{m['anticipate_validation_rows']:,.0f} customer x item rows "
            f"({m['anticipate_validation_bought']:.1%} bought), mean probability "
            f"{m['anticipate_mean_probability_clock']:.3f} -> "
            f"{m['anticipate_mean_probability']:.3f}, ECE {m['anticipate_ece_clock']:.3f} -> "
            f"{m['anticipate_ece']:.3f}"
        )
    else:
        print("AnticipateNext: too little data to calibrate; the repeat clock answers as is")
    verdict = "promoted to champion" if report.promoted else "kept as challenger"
    print(f"quality gate: {verdict}: {report.gate_reason}")


ORDER_NAMES = {"ranker": "the learnt ranker", "frequency": "buy again", "clock": "the repeat clock"}


def repeat_order_line(m: dict[str, float]) -> str:
    """Which order the repeat list is served in, and why (precision on the validation
    window, same customers)."""
    if m.get("repeat_order_ranker"):
        order = "ranker"
    elif m.get("repeat_order_frequency"):
        order = "frequency"
    else:
        order = "clock"
    tried = {
        name: m[f"repeat_validation_p10_{name}"]
        for name in ORDER_NAMES
        if f"repeat_validation_p10_{name}" in m
    }
    if not tried:
        return f"repeat items ordered by {ORDER_NAMES[order]} (too few repeat buyers to compare)"
    said = ", ".join(f"{ORDER_NAMES[n]} {v:.4f}" for n, v in tried.items())
    fallback = (
        "; the ranker lost to buy again there, so buy again orders the list"
        if "ranker" in tried and order != "ranker"
        else ""
    )
    return (
        f"repeat items ordered by {ORDER_NAMES[order]}, chosen on the last validation window "
        f"({m.get('repeat_validation_customers', 0):,.0f} repeat buyers; P@10 {said}){fallback}"
    )


def blend_line(m: dict[str, float]) -> str:
    """Whether the learnt blend serves, and why (P@10 on the latest validation window against
    buy-again, same customers)."""
    customers = m.get("blend_validation_customers", 0.0)
    if "blend_validation_p10_learnt" not in m:
        return (
            f"learnt blend: not trained ({customers:,.0f} buyers in the validation window, "
            "too few); the fixed blend serves"
        )
    learnt, again = m["blend_validation_p10_learnt"], m["blend_validation_p10_buy_again"]
    verdict = (
        "serves every known customer without a session"
        if m.get("blend_learnt")
        else "lost to buy again there, so the fixed blend serves (the repeat list first)"
    )
    return (
        f"learnt blend: P@10 {learnt:.4f} against buy again {again:.4f} on the last validation "
        f"window ({customers:,.0f} buyers): {verdict}"
    )
