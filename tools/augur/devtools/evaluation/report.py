"""The figures section of EVALUATION.md, written by `make eval` from the run's own results."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from augur.devtools.bench.report import machine, write_between
from augur.devtools.evaluation.churn import MEAN_OF, Outcome
from augur.devtools.evaluation.recommend import K, RecOutcome
from augur.devtools.evaluation.timing import TOP, TimingOutcome

BEGIN = "<!-- figures: written by make eval; do not edit by hand -->"
END = "<!-- end of figures -->"
COLUMNS = (
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("recall_top20", "leavers in top 20 %", "{:.2f}"),
    ("lift_top10", "top-decile lift", "{:.2f}"),
    ("brier", "Brier", "{:.4f}"),
    ("ece", "ECE", "{:.3f}"),
    ("levels", "probability levels", "{:.0f}"),
)


def _cell(metrics: dict[str, float], key: str, fmt: str) -> str:
    value = metrics.get(key)
    return "-" if value is None or value != value else fmt.format(value)


def _table(scores: dict[str, dict[str, float]]) -> list[str]:
    out = [
        "| scorer | " + " | ".join(c[1] for c in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for scorer, metrics in scores.items():
        cells = " | ".join(_cell(metrics, key, fmt) for key, _, fmt in COLUMNS)
        out.append(f"| {scorer} | {cells} |")
    return out


def _verdict(o: Outcome) -> str:
    augur = o.scores["Augur"]
    rivals = {k: v for k, v in o.scores.items() if k != "Augur"}
    best_auc = max(rivals, key=lambda k: rivals[k]["roc_auc"])
    best_pr = max(rivals, key=lambda k: rivals[k]["pr_auc"])
    return (
        f"Augur against the best baseline: ROC-AUC "
        f"{augur['roc_auc'] - rivals[best_auc]['roc_auc']:+.3f} "
        f"(vs {best_auc}), PR-AUC {augur['pr_auc'] - rivals[best_pr]['pr_auc']:+.3f} "
        f"(vs {best_pr})."
    )


def _reasons(o: Outcome) -> str:
    r = o.reasons
    if not r:
        return ""
    silent = r["silent"]
    share = f"{r['silent_told'] / silent:.0%}" if silent else "-"
    return (
        f"Reasons (top 5 per customer, {r['reasons']:,.0f} in all): {r['no_data']:.0f} say "
        f"'No data', {r['minus_zero']:.0f} print a '-0'; of {silent:,.0f} customers silent for "
        f"90 days or more (and 3x their usual gap), {share} are told so by a risk-raising "
        "reason (last order, overdue, recent orders)."
    )


def mean_outcome(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """Per scorer, the mean of each metric over the protocols given."""
    scorers = outcomes[0].scores.keys()
    return {
        s: {k: float(np.mean([o.scores[s][k] for o in outcomes])) for k in outcomes[0].scores[s]}
        for s in scorers
    }


REC_COLUMNS = (
    ("all_precision", f"P@{K}"),
    ("all_ndcg", f"NDCG@{K}"),
    ("all_recall", f"recall@{K}"),
    ("repeat_precision", f"repeat items P@{K}"),
    ("repeat_ndcg", f"repeat NDCG@{K}"),
    ("new_precision", f"new items P@{K}"),
    ("new_ndcg", f"new NDCG@{K}"),
    ("all_coverage", "coverage"),
)


EXPLORE_COLUMNS = (
    ("new_precision", f"new items P@{K}"),
    ("new_ndcg", f"new NDCG@{K}"),
    ("new_recall", f"new recall@{K}"),
    ("new_coverage", "coverage"),
)


def rec_table(o: RecOutcome) -> list[str]:
    columns = EXPLORE_COLUMNS if o.protocol.explore_only else REC_COLUMNS
    out = [
        "| scorer | " + " | ".join(c[1] for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for scorer, m in o.scores.items():
        cells = " | ".join(_cell(m, key, "{:.3f}") for key, _ in columns)
        out.append(f"| {scorer} | {cells} |")
    return out


def rec_section(o: RecOutcome) -> list[str]:
    p = o.protocol
    served = "promoted" if o.promoted else "refused by the gate, promoted by hand to measure it"
    what = (
        "Explore only (a movie is rated once): every list leaves out the user's own past "
        "items (Augur: `include_repeat=false`) and the truth is what they rate next."
        if p.explore_only
        else "New items: lists without the customer's own past items (Augur: "
        "`include_repeat=false`), truth restricted to items new to them."
    )
    return [
        f"#### {p.shop}, trained before {p.cutoff}, truth: the next {p.window_days} days",
        "",
        f"{o.customers:,} customers with purchases before and after the cutoff, "
        f"{o.items:,} items bought before it. Gate: {served} ({o.gate}); {o.seconds:.0f} s "
        f"train + materialise + BatchRecommend; the served artefact {o.artefact_mb:,.0f} MB, "
        f"a process holding it {o.held_mib:,.0f} MiB resident. {what}",
        "",
        *([f"Training: {o.blend}.", ""] if o.blend else []),
        *rec_table(o),
        "",
        *anticipation_section(o),
        *(f"Note: {n}" for n in o.notes),
    ]


def anticipation_section(o: RecOutcome) -> list[str]:
    a = o.anticipation
    if a is None or not a.listed:
        return []
    out = [
        f"`AnticipateNext` ({o.protocol.window_days}-day horizon, up to 100 items, as of the "
        f"cutoff) for the {a.customers:,} customers with a purchase before it: {a.listed:,} "
        f"items listed, mean probability {a.mean_probability:.3f}, {a.bought:.1%} bought in "
        f"the window; ECE {a.ece:.3f} (10 equal-width bins). Of the listed items bought in "
        f"the window, {a.inside_window:.0%} were first bought inside their stated purchase "
        "window (its 16th to 84th percentile; 68 % if the windows were exact, read as an upper "
        "bound since purchases after the horizon are not seen). Reliability by decile of the "
        "stated probability:",
        "",
        "| decile | probabilities | items | mean stated | share bought |",
        "|---|---|---|---|---|",
    ]
    for k, b in enumerate(a.deciles, 1):
        out.append(
            f"| {k} | {b.low:.3f}-{b.high:.3f} | {b.count:,} | {b.predicted:.3f} | "
            f"{b.observed:.3f} |"
        )
    return [*out, ""]


def timing_table(o: TimingOutcome) -> list[str]:
    out = [
        f"| chosen hours | baskets in the top-{TOP} hours of the day | "
        f"in the top-{TOP} hours of the week |",
        "|---|---|---|",
    ]
    for name, s in o.scores.items():
        out.append(f"| {name} | {s['hour']:.3f} | {s['week']:.3f} |")
    return out


def timing_section(o: TimingOutcome) -> list[str]:
    p = o.protocol
    return [
        f"#### {p.shop}, profile from the orders before {p.cutoff}, truth: the next "
        f"{p.window_days} days",
        "",
        f"{o.customers:,} customers with a basket before and after the cutoff, {o.baskets:,} "
        f"baskets after it, local hours in {p.timezone}. Each customer's share of later "
        "baskets in the chosen hours, averaged. The activity profile's estimator "
        "(`augur.contact.activity`), the one NextBestContact times a decision with when "
        "there is no response model or too short a contact history.",
        "",
        *timing_table(o),
        "",
    ]


def render(
    outcomes: list[Outcome],
    command: str,
    seconds: float,
    recs: list[RecOutcome] | None = None,
    times: list[TimingOutcome] | None = None,
) -> str:
    out = [
        BEGIN,
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}: "
        f"`{command}`, {seconds / 60:.1f} min in all. Development half only (even customer "
        "ids).",
        "",
        "### Churn",
        "",
    ]
    for o in outcomes:
        p = o.protocol
        served = "promoted" if o.promoted else "refused by the gate, promoted by hand to measure it"
        out += [
            f"#### {p.shop}, cutoff {p.cutoff}, H = {p.horizon_days} days",
            "",
            f"{o.customers:,} customers with an order before the cutoff, {o.churn_rate:.1%} "
            f"churned. Augur: {'linear prior + ' if o.training.get('linear_prior') else ''}"
            f"{o.trees} tree{'' if o.trees == 1 else 's'}; gate: {served} ({o.gate}); "
            f"{o.seconds:.0f} s train + materialise + score.",
            "",
            *_table(o.scores),
            "",
            _verdict(o),
            "",
            _reasons(o),
            *(f"Note: {n}" for n in o.notes),
            "",
        ]
    means = [
        o
        for o in outcomes
        if o.protocol.shop == "complete-journey"
        and o.protocol.horizon_days == 30
        and o.protocol.cutoff in MEAN_OF
    ]
    if len(means) == len(MEAN_OF):
        out += [
            f"#### complete-journey, H = 30 days, mean over cutoffs {', '.join(MEAN_OF)}",
            "",
            *_table(mean_outcome(means)),
            "",
        ]
    if recs:
        out += ["### Recommendations", ""]
        for r in recs:
            out += rec_section(r)
    if times:
        out += ["### Contact timing", ""]
        for t in times:
            out += timing_section(t)
    out.append(END)
    return "\n".join(out)


def write(
    path: Path,
    outcomes: list[Outcome],
    command: str,
    seconds: float,
    recs: list[RecOutcome] | None = None,
    times: list[TimingOutcome] | None = None,
) -> None:
    section = render(outcomes, command, seconds, recs, times)
    if not write_between(path, BEGIN, END, section):
        path.write_text(section + "\n")
