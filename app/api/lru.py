"""A store bounded by entries and by bytes, least recently used out: what
the document cache (app.api.document_cache) and the persisted queries
(app.api.persisted) each keep per process, from text clients send."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class SizedLRU(Generic[V]):
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        #: Bytes the entries keep now, by the sizes they were kept with.
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str) -> V | None:
        """The value kept under `key`, now the most recently used; or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def keep(self, key: str, value: V, size: int) -> None:
        """Keeps `value` (about `size` bytes), letting the least recently
        used go past either bound; one entry over a quarter of the bytes is
        not kept, so that no single one empties the store."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        if size > self.max_bytes // 4:
            return
        self._entries[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes or len(self._entries) > self.max_entries:
            _key, (_value, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted
