"""The contact service's transport-agnostic core: validation, then state + decision."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from augur.common.erasure import Eraser
from augur.common.errors import FailedPrecondition, InvalidArgument, NotFound
from augur.common.ids import check_id
from augur.common.models import Loaded, ModelWatcher
from augur.common.settings import ContactSettings
from augur.contact.decide import Arm, Ask, Decision, Reason, decide
from augur.contact.experiments import Uplift, in_holdout, uplift
from augur.contact.localtime import DAY, clock, zone
from augur.contact.model import ContactModel
from augur.contact.policy import Policy, channel_index, purpose_index
from augur.contact.profile import send_columns
from augur.contact.state import ContactState

DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 30
MAX_ALTERNATIVES = 10
MAX_NAME = 64
MAX_ENROL = 10_000
ALL = [0, 1, 2, 3]
# proto OutcomeType -> (stored name, counts as engagement)
OUTCOMES = {
    1: ("opened", True),
    2: ("clicked", True),
    3: ("converted", True),
    4: ("unsubscribed", False),
    6: ("delivered", False),
    7: ("failed", False),
}
ORDERED = 5
ACTIVE_OUTCOMES = ("opened", "clicked")  # outcomes that say when the customer is active


def _check_name(value: str, what: str) -> None:
    if len(value) > MAX_NAME:
        raise InvalidArgument(f"{what} has {len(value)} characters; at most {MAX_NAME}")
    if value and not value.isprintable():
        raise InvalidArgument(f"{what} contains control or non-printable characters")


@dataclass
class Recorded:
    reserved: bool
    duplicate: bool
    reason: Reason
    text: str


@dataclass
class OutcomeResult:
    recorded: bool
    duplicate: bool
    consent_withdrawn: bool


class ContactCore:
    def __init__(
        self,
        state: ContactState,
        watcher: ModelWatcher[ContactModel],
        settings: ContactSettings,
        erasers: Sequence[Eraser] = (),
    ) -> None:
        self.state = state
        self.watcher = watcher
        self.settings = settings
        self.erasers = tuple(erasers)
        """The other owners of customer data ForgetCustomer asks (wired in ``main.py``)."""

    # ------------------------------------------------------------ decisions
    def next_best_contact(
        self,
        customer_id: str,
        purpose: int,
        channels: Sequence[int],
        earliest: float | None,
        latest: float | None,
        now: float | None,
        experiment: str,
        alternatives: int,
    ) -> tuple[Decision, Loaded[ContactModel] | None]:
        check_id(customer_id, "customer_id")
        _check_name(experiment, "experiment")
        if not 0 <= alternatives <= MAX_ALTERNATIVES:
            raise InvalidArgument(
                f"alternatives must be 0..{MAX_ALTERNATIVES} (got {alternatives})"
            )
        allowed = sorted({channel_index(c, "allowed_channels") for c in channels}) or ALL
        now = time.time() if now is None else now
        start = now if earliest is None else max(earliest, now)
        end = start + DEFAULT_WINDOW_DAYS * DAY if latest is None else latest
        if end < start:
            raise InvalidArgument("latest is before earliest (or before now)")
        if end - start > MAX_WINDOW_DAYS * DAY:
            raise InvalidArgument(
                f"the window from earliest to latest is {(end - start) / DAY:.1f} days; "
                f"at most {MAX_WINDOW_DAYS}"
            )
        ask = Ask(
            customer_id,
            purpose_index(purpose),
            allowed,
            start,
            end,
            now,
            experiment,
            alternatives,
        )
        loaded = self.watcher.current  # None: no response model yet, the activity times it
        state = self.state.read(customer_id, start - 366 * DAY, float("inf"), experiment)
        model = loaded.model if loaded is not None else None
        decision = decide(ask, state, model, self.settings.contact_holdout_share)
        if experiment and not state.suppressed:
            self.state.experiments.assign(customer_id, experiment, decision.arm == Arm.HOLDOUT, now)
        return decision, loaded

    # ------------------------------------------------------------ bookkeeping
    def record_contact(
        self,
        contact_id: str,
        customer_id: str,
        channel: int,
        purpose: int,
        send_at: float | None,
        campaign: str,
        experiment: str,
        now: float | None = None,
    ) -> Recorded:
        check_id(contact_id, "contact_id")
        check_id(customer_id, "customer_id")
        ch = channel_index(channel)
        p = purpose_index(purpose)
        _check_name(campaign, "campaign")
        _check_name(experiment, "experiment")
        now = time.time() if now is None else now
        send_at = now if send_at is None else send_at
        if experiment:
            # assignment writes the id: never for an erased customer
            if self.state.is_suppressed(customer_id):
                return Recorded(False, False, Reason.SUPPRESSED, "the customer is suppressed")
            arm, share = self.state.experiments.arm_of(experiment, customer_id)
            if arm is None:
                share = self.settings.contact_holdout_share if share is None else share
                holdout = in_holdout(experiment, customer_id, share)
                self.state.experiments.assign(customer_id, experiment, holdout, now)
            else:
                holdout = arm == "holdout"
            if holdout:
                return Recorded(
                    False,
                    False,
                    Reason.HOLDOUT,
                    f"the customer is in the holdout group of experiment '{experiment}'",
                )
        policy = self.state.cached_policy()
        assumed = self.state.zone_hint(customer_id)
        for _ in range(2):  # a second pass only when the stored zone was not the assumed one
            hour, dow, _ = clock(zone(assumed or policy.default_timezone), send_at)
            record = {
                "ch": str(ch),
                "hour": str(hour),
                "dt": str(int(dow >= 5)),
                "send": repr(send_at),
                "purpose": str(p),
                "campaign": campaign,
                "exp": experiment,
                "at": repr(now),
            }
            result = self.state.reserve(
                customer_id,
                contact_id,
                ch,
                send_at,
                now,
                policy.caps,
                assumed,
                record,
                send_columns(ch, hour, dow),
            )
            if result.status != 3:
                break
            assumed = result.zone
        if result.status == -1:
            raise InvalidArgument(f"contact_id '{contact_id}' is already used by another customer")
        if result.status == 1:
            return Recorded(True, False, Reason.NONE, "reserved")
        if result.status == 2:
            return Recorded(True, True, Reason.NONE, "already recorded under this contact_id")
        if result.reason == 1:
            if self.state.is_suppressed(customer_id):  # erased: its consent went with it
                self.state.drop_claim(contact_id, customer_id)
                return Recorded(False, False, Reason.SUPPRESSED, "the customer is suppressed")
            return Recorded(False, False, Reason.NO_CONSENT, "no consent on this channel")
        return Recorded(
            False,
            False,
            Reason.FREQUENCY_CAP,
            "one more contact at this time would exceed a frequency cap",
        )

    def record_outcome(self, contact_id: str, outcome: int, at: float | None) -> OutcomeResult:
        check_id(contact_id, "contact_id")
        if outcome == ORDERED:
            raise InvalidArgument(
                "OUTCOME_TYPE_ORDERED is not an outcome of a contact: orders arrive as events "
                "(IngestEvents) and count for experiments by themselves"
            )
        if outcome not in OUTCOMES:
            raise InvalidArgument(
                "outcome must be OPENED, CLICKED, CONVERTED, UNSUBSCRIBED, DELIVERED or FAILED "
                f"(got {outcome})"
            )
        name, engaged = OUTCOMES[outcome]
        owner = self.state.owner(contact_id)
        if owner is None:
            raise NotFound(f"no contact recorded under contact_id '{contact_id}'")
        when = time.time() if at is None else at
        status, withdrawn, _ = self.state.record_outcome(owner, contact_id, name, when, engaged)
        if status == 0:
            raise NotFound(f"no contact recorded under contact_id '{contact_id}'")
        if status == 1 and name in ACTIVE_OUTCOMES:  # a first open or click: an activity
            self.state.activity.add(owner, when)
        return OutcomeResult(status == 1, status == 2, withdrawn)

    def set_consent(
        self, customer_id: str, consents: Sequence[tuple[int, bool]], timezone: str
    ) -> tuple[np.ndarray, str | None]:
        check_id(customer_id, "customer_id")
        changes = {
            channel_index(c, f"consents[{i}].channel"): g for i, (c, g) in enumerate(consents)
        }
        if timezone:
            try:
                zone(timezone)
            except ValueError as exc:
                raise InvalidArgument(f"timezone: {exc}") from None
        if self.state.is_suppressed(customer_id):
            raise FailedPrecondition(
                "the customer is on the suppression list (erased); consent cannot be recorded"
            )
        return self.state.set_consent(customer_id, changes, timezone or None)

    def get_policy(self) -> Policy:
        return self.state.policy()

    def update_policy(self, policy: Policy) -> Policy:
        return self.state.set_policy(policy.validate())

    # ------------------------------------------------------------ measurement
    def uplift_report(
        self, experiment: str, outcome: int, window_days: int, confidence: float
    ) -> Uplift:
        if not experiment:
            raise InvalidArgument("experiment is required")
        _check_name(experiment, "experiment")
        if outcome != ORDERED:
            raise InvalidArgument(
                "outcome must be OUTCOME_TYPE_ORDERED: holdout customers receive no contact, so "
                "only an outcome both arms can have (ordering again) compares them"
            )
        if not 1 <= window_days <= 365:
            raise InvalidArgument(f"window_days must be 1..365 (got {window_days})")
        confidence = confidence or 0.95
        if not 0.5 <= confidence <= 0.999:
            raise InvalidArgument(f"confidence must be 0.5..0.999 (got {confidence})")
        counts = self.state.experiments.experiment_counts(experiment, "ordered", window_days)
        if counts is None:
            raise NotFound(f"no customer was ever assigned to experiment '{experiment}'")
        return uplift(*counts, confidence=confidence)

    def enroll(
        self,
        experiment: str,
        share: float,
        entries: Sequence[tuple[str, int]],
        dry_run: bool,
        at: float | None,
    ) -> tuple[list[tuple[Arm, bool]], float]:
        """Enrol customers with the arms given; ([(arm held, enrolled now)], share)."""
        if not experiment:
            raise InvalidArgument("experiment is required")
        _check_name(experiment, "experiment")
        if not 0 <= share <= 0.5:
            raise InvalidArgument(f"holdout_share must be 0..0.5 (got {share})")
        if not 1 <= len(entries) <= MAX_ENROL:
            raise InvalidArgument(
                f"enrolments must hold 1..{MAX_ENROL} customers (got {len(entries)})"
            )
        pairs: list[tuple[str, bool]] = []
        for i, (customer_id, arm) in enumerate(entries):
            check_id(customer_id, f"enrolments[{i}].customer_id")
            if not dry_run and arm not in (Arm.TREATMENT, Arm.HOLDOUT):
                raise InvalidArgument(
                    f"enrolments[{i}].arm must be ARM_TREATMENT or ARM_HOLDOUT (got {arm})"
                )
            pairs.append((customer_id, arm == Arm.HOLDOUT))
        now = time.time() if at is None else at
        registered = self.state.experiments.registered_share(experiment)
        if registered is not None:
            held = registered
        elif dry_run:
            held = share or self.settings.contact_holdout_share
        else:
            held = self.state.experiments.register_share(
                experiment, share or self.settings.contact_holdout_share, now
            )
        if share and abs(held - share) > 1e-12:
            raise FailedPrecondition(
                f"experiment '{experiment}' was registered with holdout share {held:g}; "
                f"it cannot change to {share:g}"
            )
        if not dry_run:
            suppressed = int(self.state.suppressed_mask([c for c, _ in pairs]).sum())
            if suppressed:
                raise FailedPrecondition(
                    f"{suppressed} customer(s) are on the suppression list and cannot be enrolled"
                )
        stored = self.state.experiments.enroll(experiment, pairs, now, write=not dry_run)
        arms = {None: Arm.NONE, "treatment": Arm.TREATMENT, "holdout": Arm.HOLDOUT}
        return [(arms[a], new) for a, new in stored], held

    def forget(self, customer_id: str) -> tuple[int, list[str]]:
        check_id(customer_id, "customer_id")
        return self.state.forget(customer_id, self.erasers)
