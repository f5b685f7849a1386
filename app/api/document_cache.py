"""Parsed and validated documents, kept by query text for reuse.

A hot query is parsed and validated once. The cache is bounded by entries
and by bytes: the query text, which is the key and which the document's
source keeps too, can be a megabyte of padding, and a parsed document
keeps every token of its text (for error locations), so 300 entries
could otherwise hold gigabytes. The least recently used entries go first.
An entry's compiled plans (app.api.plan) live and go with it; they are
small beside its tokens (one per operation the document defines).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from graphql import DocumentNode

from app.api.lru import SizedLRU
from app.api.plan import CompiledDocument

V = TypeVar("V")

#: What a parsed document keeps per token, measured with tracemalloc
#: (tokens, nodes, locations, validation leftovers): about 0.4 to 0.7 KB.
BYTES_PER_TOKEN = 800
#: What a refusal (a few formatted errors) keeps besides its query text.
BYTES_PER_FAILURE = 4096


def tokens_in(document: DocumentNode) -> int:
    """How many tokens the document keeps (the lexer links them all)."""
    count = 0
    token = document.loc.start_token if document.loc is not None else None
    while token is not None:
        count += 1
        token = token.next
    return count


def size_of(query: str, value: object) -> int:
    """About how many bytes an entry keeps alive."""
    text = sys.getsizeof(query)
    if isinstance(value, CompiledDocument):
        value = value.document
    if isinstance(value, DocumentNode):
        return text + BYTES_PER_TOKEN * tokens_in(value)
    return text + BYTES_PER_FAILURE


class DocumentCache(SizedLRU[V]):
    """Query text -> what `compile` made of it, least recently used out."""

    def __init__(self, compile: Callable[[str], V], max_entries: int, max_bytes: int) -> None:
        super().__init__(max_entries, max_bytes)
        self.compile = compile

    def get(self, query: str) -> V:
        value = self.lookup(query)
        if value is None:
            value = self.compile(query)
            self.keep(query, value, size_of(query, value))
        return value
