"""Thin gRPC servicer of augur.contact.v1."""

from __future__ import annotations

from typing import Any

from grpc import aio

from augur.common.convert import ModelInfoCache, reload_model, timestamp
from augur.common.models import ModelWatcher
from augur.contact.core import ContactCore
from augur.contact.decide import Option
from augur.contact.model import ContactModel
from augur.contact.policy import Policy
from augur.contact.v1 import contact_pb2, contact_pb2_grpc


def _seconds(msg: Any, field: str) -> float | None:
    if not msg.HasField(field):
        return None
    ts = getattr(msg, field)
    return ts.seconds + ts.nanos / 1e9


def _option(option: Option) -> contact_pb2.ContactOption:
    return contact_pb2.ContactOption(
        channel=option.channel + 1,  # type: ignore[arg-type]
        send_at=timestamp(option.time),
        send_at_local=option.local_iso(),
        expected_response=option.expected,
    )


class ContactServicer(contact_pb2_grpc.ContactServiceServicer):
    def __init__(self, core: ContactCore, watcher: ModelWatcher[ContactModel]) -> None:
        self.core = core
        self.watcher = watcher
        self._info = ModelInfoCache()

    async def NextBestContact(
        self, request: contact_pb2.NextBestContactRequest, context: aio.ServicerContext
    ) -> contact_pb2.NextBestContactResponse:
        decision, loaded = self.core.next_best_contact(
            request.customer_id,
            request.purpose,
            list(request.allowed_channels),
            _seconds(request, "earliest"),
            _seconds(request, "latest"),
            _seconds(request, "now"),
            request.experiment,
            request.alternatives,
        )
        response = contact_pb2.NextBestContactResponse(
            customer_id=request.customer_id,
            contact=decision.contact,
            reason=int(decision.reason),  # type: ignore[arg-type]
            reason_text=decision.text,
            fallback=decision.fallback,
            timezone=decision.timezone,
            arm=int(decision.arm),  # type: ignore[arg-type]
            timing_source=int(decision.timing),  # type: ignore[arg-type]
        )
        if loaded is not None:
            response.model.CopyFrom(self._info(loaded))
        if decision.best is not None and decision.contact:
            response.best.CopyFrom(_option(decision.best))
            response.alternatives.extend(_option(o) for o in decision.alternatives)
        if decision.earliest_allowed is not None:
            response.earliest_allowed.CopyFrom(timestamp(decision.earliest_allowed))
        return response

    async def RecordContact(
        self, request: contact_pb2.RecordContactRequest, context: aio.ServicerContext
    ) -> contact_pb2.RecordContactResponse:
        send_at = _seconds(request, "send_at")
        result = self.core.record_contact(
            request.contact_id,
            request.customer_id,
            request.channel,
            request.purpose,
            send_at,
            request.campaign,
            request.experiment,
        )
        return contact_pb2.RecordContactResponse(
            reserved=result.reserved,
            duplicate=result.duplicate,
            reason=int(result.reason),  # type: ignore[arg-type]
            reason_text=result.text,
        )

    async def RecordOutcome(
        self, request: contact_pb2.RecordOutcomeRequest, context: aio.ServicerContext
    ) -> contact_pb2.RecordOutcomeResponse:
        result = self.core.record_outcome(
            request.contact_id, request.outcome, _seconds(request, "occurred_at")
        )
        return contact_pb2.RecordOutcomeResponse(
            recorded=result.recorded,
            duplicate=result.duplicate,
            consent_withdrawn=result.consent_withdrawn,
        )

    async def SetConsent(
        self, request: contact_pb2.SetConsentRequest, context: aio.ServicerContext
    ) -> contact_pb2.SetConsentResponse:
        state, tz = self.core.set_consent(
            request.customer_id,
            [(c.channel, c.granted) for c in request.consents],
            request.timezone,
        )
        return contact_pb2.SetConsentResponse(
            consents=[
                contact_pb2.ChannelConsent(channel=i + 1, granted=bool(g))  # type: ignore[arg-type]
                for i, g in enumerate(state)
            ],
            timezone=tz or "",
        )

    async def GetContactPolicy(
        self, request: contact_pb2.GetContactPolicyRequest, context: aio.ServicerContext
    ) -> contact_pb2.GetContactPolicyResponse:
        return contact_pb2.GetContactPolicyResponse(policy=self.core.get_policy().to_proto())

    async def UpdateContactPolicy(
        self, request: contact_pb2.UpdateContactPolicyRequest, context: aio.ServicerContext
    ) -> contact_pb2.UpdateContactPolicyResponse:
        policy = self.core.update_policy(Policy.from_proto(request.policy))
        return contact_pb2.UpdateContactPolicyResponse(policy=policy.to_proto())

    async def UpliftReport(
        self, request: contact_pb2.UpliftReportRequest, context: aio.ServicerContext
    ) -> contact_pb2.UpliftReportResponse:
        u = self.core.uplift_report(
            request.experiment, request.outcome, request.window_days, request.confidence
        )
        return contact_pb2.UpliftReportResponse(
            experiment=request.experiment,
            treated=contact_pb2.GroupOutcome(
                customers=u.treated_n, successes=u.treated_successes, rate=u.treated_rate
            ),
            holdout=contact_pb2.GroupOutcome(
                customers=u.holdout_n, successes=u.holdout_successes, rate=u.holdout_rate
            ),
            absolute_uplift=u.absolute,
            absolute_ci_low=u.low,
            absolute_ci_high=u.high,
            relative_uplift=u.relative,
            conclusive=u.conclusive,
            note=u.note,
        )

    async def EnrollExperiment(
        self, request: contact_pb2.EnrollExperimentRequest, context: aio.ServicerContext
    ) -> contact_pb2.EnrollExperimentResponse:
        held, share = self.core.enroll(
            request.experiment,
            request.holdout_share,
            [(e.customer_id, e.arm) for e in request.enrolments],
            request.dry_run,
            _seconds(request, "at"),
        )
        return contact_pb2.EnrollExperimentResponse(
            enrolments=[
                contact_pb2.Enrolment(
                    customer_id=e.customer_id,
                    arm=int(arm),  # type: ignore[arg-type]
                    enrolled_now=new,
                )
                for e, (arm, new) in zip(request.enrolments, held, strict=True)
            ],
            holdout_share=share,
        )

    async def ForgetCustomer(
        self, request: contact_pb2.ForgetCustomerRequest, context: aio.ServicerContext
    ) -> contact_pb2.ForgetCustomerResponse:
        removed, kinds = self.core.forget(request.customer_id)
        return contact_pb2.ForgetCustomerResponse(
            removed_keys=removed, removed_kinds=kinds, tombstoned=True
        )

    async def ReloadModel(
        self, request: contact_pb2.ReloadModelRequest, context: aio.ServicerContext
    ) -> contact_pb2.ReloadModelResponse:
        info, changed = await reload_model(self.watcher, self._info)
        return contact_pb2.ReloadModelResponse(model=info, changed=changed)
