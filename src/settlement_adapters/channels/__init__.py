"""Payment channels: callback signing, failure policies, settlement reports, a simulated bank."""

from __future__ import annotations

from settlement_adapters.channels.policy import SIMULATED_CODES, FailurePolicy
from settlement_adapters.channels.report import SettlementReportRow, read_report, write_report
from settlement_adapters.channels.signing import (
    DEFAULT_TOLERANCE,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify,
)
from settlement_adapters.channels.simulated import SimulatedBank

__all__ = [
    "sign",
    "verify",
    "TIMESTAMP_HEADER",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "DEFAULT_TOLERANCE",
    "FailurePolicy",
    "SIMULATED_CODES",
    "SettlementReportRow",
    "write_report",
    "read_report",
    "SimulatedBank",
]
