"""Top-k ranking metrics, overall and on repeat / new items separately."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def ranking_metrics(
    lists: Mapping[str, Sequence[str]], relevant: Mapping[str, set[str]], k: int
) -> dict[str, float]:
    """Mean precision@k, recall@k, NDCG@k and MAP@k over users with a relevant item."""
    p, r, ndcg, ap = [], [], [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for user, truth in relevant.items():
        if not truth:
            continue
        ranked = list(lists.get(user, ()))[:k]
        hits = np.array([item in truth for item in ranked], dtype=float)
        n_hits = hits.sum()
        p.append(n_hits / k)
        r.append(n_hits / len(truth))
        ideal = discounts[: min(len(truth), k)].sum()
        ndcg.append(float((hits * discounts[: len(hits)]).sum() / ideal))
        if n_hits:
            precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
            ap.append(float((precision_at * hits).sum() / min(len(truth), k)))
        else:
            ap.append(0.0)
    if not p:
        return {
            f"precision@{k}": 0.0,
            f"recall@{k}": 0.0,
            f"ndcg@{k}": 0.0,
            f"map@{k}": 0.0,
            "users": 0.0,
        }
    return {
        f"precision@{k}": float(np.mean(p)),
        f"recall@{k}": float(np.mean(r)),
        f"ndcg@{k}": float(np.mean(ndcg)),
        f"map@{k}": float(np.mean(ap)),
        "users": float(len(p)),
    }


def coverage(lists: Mapping[str, Sequence[str]], catalog_size: int, k: int) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    seen = {item for ranked in lists.values() for item in list(ranked)[:k]}
    return len(seen) / max(catalog_size, 1)
