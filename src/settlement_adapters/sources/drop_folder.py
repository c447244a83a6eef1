"""An order source over a folder where a host drops CSV and JSON-lines files.

Writers must drop a file complete (write under another name, then rename it to
`*.csv` or `*.jsonl`): a file is read as it is when the collector sees it. JSON
numbers are read as Decimal, never float, so amounts stay exact; CSV fields are
text and the field mapping converts them. Each record's change time is read
from one column (ISO 8601 with an offset). A file that cannot be read, or a
record without a readable change time, makes the source unavailable rather
than silently dropping an order.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from attrs import define, field

from settlement_core.errors import SourceUnavailable
from settlement_core.ports import SourceRecord

SUFFIXES = (".csv", ".jsonl")


@define
class DropFolderSource:
    """Every `*.csv` and `*.jsonl` file of a folder, records selected by their change time."""

    name: str
    tenant_id: str
    folder: Path
    changed_at_field: str = "changed_at"
    # path -> (mtime_ns, size, records): a file is parsed again only when it changed.
    _cache: dict[Path, tuple[int, int, list[SourceRecord]]] = field(factory=dict, init=False)

    def fetch(self, start: datetime, end: datetime) -> Sequence[SourceRecord]:
        """Records changed in [start, end), oldest first."""
        try:
            paths = sorted(p for p in self.folder.iterdir() if p.suffix in SUFFIXES)
            found = [
                r for path in paths for r in self._records(path) if start <= r.changed_at < end
            ]
        except OSError as exc:
            raise SourceUnavailable(f"drop folder {self.folder}: {exc}") from exc
        return sorted(found, key=lambda r: r.changed_at)

    def _records(self, path: Path) -> list[SourceRecord]:
        stat = path.stat()
        cached = self._cache.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        with path.open(encoding="utf-8", newline="") as handle:
            if path.suffix == ".csv":
                rows: list[dict[str, object]] = list(csv.DictReader(handle))
            else:
                rows = [json.loads(line, parse_float=Decimal) for line in handle if line.strip()]
        records = [self._record(path, n, row) for n, row in enumerate(rows, start=1)]
        self._cache[path] = (stat.st_mtime_ns, stat.st_size, records)
        return records

    def _record(self, path: Path, number: int, row: dict[str, object]) -> SourceRecord:
        raw = row.get(self.changed_at_field)
        try:
            changed = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            changed = None
        if changed is None or changed.utcoffset() is None:
            raise SourceUnavailable(
                f"{path.name} record {number}: {self.changed_at_field} {raw!r} "
                "is not an ISO 8601 instant with an offset"
            )
        return SourceRecord(row, changed)
