"""What a model method refuses, in words a person understands.

The API layers translate these into their own shapes (a GraphQL error
code, an `error` frame); models raise them without knowing which.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal; `str(error)` is the message for the client."""


class InvalidInput(DomainError):
    """The request is malformed or breaks a rule; nothing was changed."""


class NotFound(DomainError):
    """No such object, or not one the viewer may see."""


class Unauthenticated(DomainError):
    """The operation needs a signed-in user, or the credential is invalid."""


class Forbidden(DomainError):
    """Signed in, but not allowed to do this."""


class Unavailable(DomainError):
    """Something the request needs (the database) is out of reach or full;
    the message says whether anything was changed. `retry_after`, when
    set, is how many seconds to wait before trying again."""

    retry_after: int | None = None
