"""Property-based: whatever the request, the blend never leaks an excluded, out-of-stock,
in-cart or off-category item and never repeats one; fold-in is exact ALS."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from implicit.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from augur.recommend.index import Query, RecommendIndex, Source
from augur.recommend.model import RecommendModel
from augur.training.recommend.train import nearest_items

DAY = 86400.0
N_ITEMS, N_USERS = 120, 80


@pytest.fixture(scope="module")
def fitted() -> tuple[RecommendIndex, AlternatingLeastSquares, object]:
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    dense = (rng.random((N_USERS, N_ITEMS)) < 0.08) * rng.uniform(1, 20, (N_USERS, N_ITEMS))
    matrix = sp.csr_matrix(dense.astype(np.float32))
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(factors=8, iterations=10, regularization=0.1, random_state=1)
        als.fit(matrix, show_progress=False)
    users = np.array([f"u{i}" for i in range(N_USERS)])
    items = np.array([f"i{j}" for j in range(N_ITEMS)])
    near = nearest_items(als, 20)
    rows, cols = matrix.nonzero()
    bought = rows < N_USERS // 2  # half the customers have repeat history
    model = RecommendModel(
        users=users,
        items=items,
        user_factors=np.asarray(als.user_factors),
        item_factors=np.asarray(als.item_factors),
        confidence_indptr=matrix.indptr.astype(np.int64),
        confidence_indices=matrix.indices.astype(np.int32),
        confidence_data=matrix.data,
        repeat_customer=users[rows[bought]],
        repeat_item=items[cols[bought]],
        repeat_count=rng.integers(1, 8, bought.sum()).astype(float),
        repeat_last_day=1000.0 - rng.uniform(0, 60, bought.sum()),
        repeat_interval_days=rng.uniform(3, 90, bought.sum()),
        cooc_indptr=np.zeros(N_ITEMS + 1, dtype=np.int64),
        cooc_indices=np.zeros(0, dtype=np.int32),
        cooc_data=np.zeros(0, dtype=np.float32),
        user_candidates=np.argsort(
            -(np.asarray(als.user_factors) @ np.asarray(als.item_factors).T), axis=1
        )[:, :20].astype(np.int32),
        similar_indices=near[0],
        similar_scores=near[1],
        popular=items[rng.permutation(N_ITEMS)],
        item_category=np.array([f"cat{j % 6}" for j in range(N_ITEMS)]),
        regularization=0.1,
    )
    return RecommendIndex(model), als, matrix


item_ids = st.lists(st.integers(0, N_ITEMS + 5).map(lambda j: f"i{j}"), max_size=40)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    customer=st.one_of(st.integers(0, N_USERS - 1).map(lambda i: f"u{i}"), st.just("stranger")),
    n=st.integers(1, 100),
    exclude=item_ids,
    context=st.lists(st.integers(0, N_ITEMS - 1).map(lambda j: f"i{j}"), max_size=5),
    out_of_stock=st.sets(st.integers(0, N_ITEMS - 1), max_size=60),
    categories=st.lists(st.integers(0, 7).map(lambda k: f"cat{k}"), max_size=3),
    include_repeat=st.booleans(),
)
def test_filters_never_leak(  # type: ignore[no-untyped-def]
    fitted, customer, n, exclude, context, out_of_stock, categories, include_repeat
) -> None:
    index, _, _ = fitted
    q = Query(customer, n, 1000 * DAY, context, exclude, categories, include_repeat)
    answer = index.recommend(q, lambda items: ~np.isin(items, list(out_of_stock)))
    got = [index.item_ids[p.item] for p in answer.picks]
    assert len(got) == len(set(got)) <= n
    assert not set(got) & (set(exclude) | set(context))
    assert not {p.item for p in answer.picks} & out_of_stock
    if categories:
        assert {index.category_of(p.item) for p in answer.picks} <= set(categories)
    if not include_repeat:
        assert all(p.source is not Source.REPEAT for p in answer.picks)
    assert answer.cold_start == (customer == "stranger")
    # nothing was lost to the filters that could have been shown: a short list means
    # every allowed, in-stock item not blocked was already used
    if len(got) < n and not categories and customer == "stranger" and not context:
        allowed = set(index.item_ids) - set(exclude) - {index.item_ids[j] for j in out_of_stock}
        assert set(got) == allowed


def test_fold_in_is_exact_als(fitted) -> None:  # type: ignore[no-untyped-def]
    index, als, matrix = fitted
    for row in (0, 7, 33):
        with threadpool_limits(1, "blas"):
            reference = np.asarray(als.recalculate_user(row, matrix[row])).ravel()
        ours = index.fold_in(f"u{row}", np.zeros(0, dtype=np.int64))
        np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-4)
    # a session item moves the user towards it
    base = index.X[0] @ index.Y[5]
    folded = index.fold_in("u0", np.array([5])) @ index.Y[5]
    assert folded > base


def test_short_lists_rank_like_a_catalogue_scan(fitted) -> None:  # type: ignore[no-untyped-def]
    index, _, _ = fitted
    for customer in ("u50", "u61", "u70"):  # no repeat history: the explore list only
        row = index.user_pos[customer]
        hidden = np.zeros(N_ITEMS, dtype=bool)
        short = index._rank(
            index.X[row], index.model.user_candidates[row].astype(np.int64), hidden, 10
        )
        full = index._rank(index.X[row], None, hidden, 10)
        assert short.tolist() == full.tolist()


def test_save_load_round_trip(fitted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    index, _, _ = fitted
    index.model.save(tmp_path)
    again = RecommendIndex(RecommendModel.load(tmp_path))
    q = Query("u3", 20, 1000 * DAY, ("i4",), ("i9",))
    assert index.recommend(q).picks == again.recommend(q).picks
    assert index.similar(3, 10) == again.similar(3, 10)


def test_similar_lookup_matches_a_catalogue_scan(fitted) -> None:  # type: ignore[no-untyped-def]
    index, _, _ = fitted
    for item in (0, 17, 99):
        stored = [p.item for p in index.similar(item, 10)]
        scanned = [p.item for p in index.similar(item, 10, scan=True)]
        assert stored == scanned and item not in stored
    gone = {p.item for p in index.similar(5, 10)}
    refilled = index.similar(5, 10, lambda items: ~np.isin(items, list(gone)))
    assert len(refilled) == 10 and not {p.item for p in refilled} & gone
