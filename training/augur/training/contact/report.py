"""The summary table printed at the end of a response-model training run."""

from __future__ import annotations

from augur.features.definitions import CHANNELS
from augur.training.contact.pipeline import value_verdict
from augur.training.contact.train import POLICIES
from augur.training.registry import TrainReport


def print_contact_report(report: TrainReport) -> None:
    m = report.metrics
    print(
        f"\ncontact model: registered version {report.version} (run {report.run_id}) "
        f"in {report.seconds:.1f} s; {report.rows}"
    )
    aucs = "  ".join(f"{c} {m.get(f'auc_{c}', float('nan')):.3f}" for c in CHANNELS)
    print(f"response AUC on the test window: all {m['auc']:.3f}  |  {aucs}")
    print(
        f"baseline scorers' AUC: own channel rate {m['auc_baseline_channel_rate']:.3f}, "
        f"(channel, hour) rate {m['auc_baseline_global_slot']:.3f}"
    )
    print(f"{'policy':22s} {'response':>9s} {'90% CI':>17s} {'matched':>8s}")
    for p in POLICIES:
        print(
            f"{p:22s} {m[f'policy_{p}']:9.4f} "
            f"{m[f'policy_{p}_low']:8.4f}-{m[f'policy_{p}_high']:.4f} "
            f"{int(m[f'policy_{p}_matched']):8d}"
        )
    print(f"{'logged (as sent)':22s} {m['policy_logged']:9.4f}")
    if "policy_gap" in m:
        print(value_verdict(m, has_champion=False)[1])
    verdict = "promoted to champion" if report.promoted else "kept as challenger"
    print(f"quality gate: {verdict}: {report.gate_reason}")
