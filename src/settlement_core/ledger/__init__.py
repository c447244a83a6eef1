"""Double-entry journal: transactions, ledger account names, postings."""

from settlement_core.ledger import accounts, chain, postings
from settlement_core.ledger.chain import JournalRecord, Seal
from settlement_core.ledger.journal import Entry, JournalTransaction, net

__all__ = [
    "Entry",
    "JournalTransaction",
    "JournalRecord",
    "Seal",
    "accounts",
    "chain",
    "net",
    "postings",
]
