"""The activity timing profile: local hours of the week across daylight saving, shrinkage
towards the shop, and the top hours."""

from __future__ import annotations

import datetime as dt

import numpy as np

from augur.contact.activity import SLOTS, counts_of, hour_scores, slots_of, top, week_scores


def _utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_slots_follow_the_customers_clock_across_daylight_saving() -> None:
    # 17:00 in New York is 21:00 UTC in summer (EDT) and 22:00 UTC in winter (EST)
    summer = _utc(2017, 7, 3, 21)  # a Monday
    winter = _utc(2017, 12, 4, 22)  # a Monday
    assert slots_of(np.array([summer, winter]), "America/New_York").tolist() == [17, 17]
    # Sunday 23:00 local is the last slot of the week
    assert slots_of(np.array([_utc(2017, 7, 10, 3)]), "America/New_York").tolist() == [167]


def test_a_customer_without_activity_gets_the_shops_hours() -> None:
    shop = np.zeros(SLOTS)
    shop[[18, 42, 66]] = 10.0  # 18:00 on three weekdays
    scores = hour_scores(np.zeros((1, SLOTS)), shop)
    assert np.isclose(scores.sum(), 1.0)
    assert top(scores, 3)[0].tolist() == [18, 17, 19]


def test_own_habits_outweigh_the_shop_and_neighbouring_hours_count() -> None:
    shop = np.zeros(SLOTS)
    shop[18] = 1000.0
    counts = counts_of(np.zeros(4, dtype=np.int64), np.array([9, 9, 33, 57]), 1)
    hours = hour_scores(counts, shop)[0]
    assert top(hours, 1).tolist() == [9]
    assert hours[8] > hours[7] > hours[3]  # smoothed over the neighbouring hours
    week = week_scores(counts, shop)[0]
    assert top(week, 3).tolist() == [9, 33, 57]
    assert week[10] > week[11]  # the hour next to an active one is likelier than further
