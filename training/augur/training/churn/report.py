"""The summary table printed at the end of a churn training run."""

from __future__ import annotations

from augur.training.registry import TrainReport


def print_churn_report(report: TrainReport) -> None:
    m = report.metrics
    print(
        f"\nchurn model: registered version {report.version} (run {report.run_id}) "
        f"in {report.seconds:.1f} s; rows {report.rows}"
    )
    print(
        f"{'scorer':10s} {'ROC-AUC':>8s} {'PR-AUC':>8s} {'Brier':>8s} {'ECE':>8s} "
        f"{'prec@5%':>8s} {'rec@10%':>8s} {'lift@10%':>8s}"
    )
    rows = (
        ("model", "model"),
        ("recency", "recency"),
        ("frequency", "-frequency"),
        ("bgnbd", "BG/NBD"),
    )
    for tag, label in rows:
        print(
            f"{label:10s} {m[f'{tag}_roc_auc']:8.4f} {m[f'{tag}_pr_auc']:8.4f} "
            f"{m.get(f'{tag}_brier', float('nan')):8.4f} {m.get(f'{tag}_ece', float('nan')):8.4f} "
            f"{m[f'{tag}_precision_top5']:8.4f} {m[f'{tag}_recall_top10']:8.4f} "
            f"{m[f'{tag}_lift_top10']:8.2f}"
        )
    if "active_model_roc_auc" in m:
        print(
            f"customers active in the last 30 days ({m['active_customers']:.0f}): ROC-AUC model "
            f"{m['active_model_roc_auc']:.4f}, recency {m['active_recency_roc_auc']:.4f}, "
            f"BG/NBD {m['active_bgnbd_roc_auc']:.4f}"
        )
    print(
        f"calibration: Brier {m['model_brier_uncalibrated']:.4f} -> {m['model_brier']:.4f}; "
        f"reason codes agree with exact SHAP on {m['reason_top3_agreement']:.0%} of top-3"
    )
    print(
        f"{'linear prior + ' if m['linear_prior'] else ''}{m['trees']:.0f} trees (validation "
        f"log-loss {m['validation_logloss']:.4f}; the other structure did worse); "
        f"{m['probability_levels']:.0f} distinct probabilities on the test customers"
    )
    verdict = "promoted to champion" if report.promoted else "kept as challenger"
    print(f"quality gate: {verdict}: {report.gate_reason}")
    if not report.promoted:
        print(
            "the champion is unchanged (none serves if there is none yet); to serve this "
            f"version anyway: augur models promote churn --version {report.version}"
        )
