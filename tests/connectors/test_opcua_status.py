"""OPC UA StatusCodes -> our quality codes (pure; no server)."""

from __future__ import annotations

import pytest
from asyncua import ua
from hypothesis import given
from hypothesis import strategies as st

from processtwin.connectors.opcua.status import COMM_CODES, quality_of, status_name
from processtwin.core.quality import Quality, Reason, from_opcua_status

S = ua.StatusCodes
ALL_CODES = [v for k, v in vars(S).items() if not k.startswith("_") and isinstance(v, int)]


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_level_follows_the_severity_bits_for_any_code(code: int) -> None:
    q, r = quality_of(code)
    assert q == {0: Quality.GOOD, 1: Quality.UNCERTAIN}.get(code >> 30, Quality.BAD)
    assert q == from_opcua_status(code)[0]  # agrees with the core's coarse mapping
    assert (r == Reason.NONE) == (q == Quality.GOOD)
    assert quality_of(ua.StatusCode(code)) == (q, r)


@given(st.sampled_from(ALL_CODES), st.integers(min_value=0, max_value=0xFFFF))
def test_info_bits_do_not_change_the_mapping(code: int, info: int) -> None:
    assert quality_of(code | info) == quality_of(code)
    assert status_name(code | info) == status_name(code)


@pytest.mark.parametrize(("code", "quality", "reason"), [
    (S.Good, Quality.GOOD, Reason.NONE),
    (S.GoodLocalOverride, Quality.GOOD, Reason.NONE),
    (S.UncertainLastUsableValue, Quality.UNCERTAIN, Reason.STALE),
    (S.UncertainNoCommunicationLastUsableValue, Quality.UNCERTAIN, Reason.STALE | Reason.COMM),
    (S.UncertainSubstituteValue, Quality.UNCERTAIN, Reason.IMPUTED),
    (S.UncertainSensorNotAccurate, Quality.UNCERTAIN, Reason.SOURCE),
    (S.UncertainEngineeringUnitsExceeded, Quality.UNCERTAIN, Reason.RANGE),
    (S.BadNotConnected, Quality.BAD, Reason.COMM | Reason.STALE),
    (S.BadCommunicationError, Quality.BAD, Reason.COMM | Reason.STALE),
    (S.BadNoCommunication, Quality.BAD, Reason.COMM | Reason.STALE),
    (S.BadTimeout, Quality.BAD, Reason.COMM | Reason.STALE),
    (S.BadWaitingForInitialData, Quality.BAD, Reason.STALE),
    (S.BadSensorFailure, Quality.BAD, Reason.SOURCE),
    (S.BadDeviceFailure, Quality.BAD, Reason.SOURCE),
    (S.BadOutOfService, Quality.BAD, Reason.SOURCE | Reason.STALE),
    (S.BadNodeIdUnknown, Quality.BAD, Reason.UNKNOWN),
    (S.BadTypeMismatch, Quality.BAD, Reason.TYPE),
])
def test_codes_keep_their_reason(code: int, quality: Quality, reason: Reason) -> None:
    assert quality_of(code) == (quality, reason)


def test_every_comm_code_is_bad_and_named() -> None:
    for code in COMM_CODES:
        assert quality_of(code) == (Quality.BAD, Reason.COMM | Reason.STALE)
        assert status_name(code).startswith("Bad")
    assert status_name(0x80FF1234) == "0x80FF1234"
