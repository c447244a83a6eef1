"""Double-entry journal: transactions, ledger account names, postings."""

from settlement_core.ledger import accounts, postings
from settlement_core.ledger.journal import Entry, JournalTransaction, net

__all__ = ["Entry", "JournalTransaction", "accounts", "net", "postings"]
