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


def test_without_a_model_unanswered_channels_lose_their_priority() -> None:
    from augur.contact.decide import _channel_priority
    from augur.contact.policy import Policy
    from augur.contact.profile import OPENED_CHANNEL, SENT_CHANNEL, Profile
    from augur.contact.state import CustomerState

    profile = Profile.empty()
    profile.counts[SENT_CHANNEL + 0] = 4  # e-mail: four sends, none opened
    profile.counts[SENT_CHANNEL + 1] = 2  # sms: two sends, both answered
    profile.counts[OPENED_CHANNEL + 1] = 2
    state = CustomerState(
        False, np.ones(4, bool), None, profile, np.zeros(0), np.zeros(0, np.int64), Policy()
    )
    rank, why = _channel_priority(state, [0, 1, 2])
    # sms (3/4) before push (unused: 1/2), e-mail last although first in the channel order
    assert [int(c) for c in np.argsort(rank)[:3]] == [1, 2, 0]
    assert "none answered: tried last" in why[0] and "2 of 2 sends answered" in why[1]
    assert why[2] == "push (not used yet), consented also: sms, email"
