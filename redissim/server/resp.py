"""RESP2 replies as Python values, their wire encoding and their size on the wire.

Models the reply side of Redis's protocol layer (``src/networking.c``: ``addReply*``,
``addReplyError*``, ``_addReplyToBuffer``) and the request framing parsed by
``processMultibulkBuffer``. The keyspace returns replies as plain Python values so that a
command line can be replayed and compared; this module turns them into bytes (for tests and
the differential client) or just counts the bytes (for the network model, which must not
build strings on the hot path).

Mapping (RESP2, the default protocol of Redis 7.0):

* simple string ``+OK``   -> ``str``
* bulk string ``$3 foo``  -> ``bytes``
* integer ``:1``          -> ``int``
* nil ``$-1`` / ``*-1``   -> ``None``  (a nil array is encoded as ``*-1`` when wrapped in
  :data:`NIL_ARRAY`; both are five bytes on the wire)
* array ``*n``            -> ``list``
* error ``-ERR ...``      -> :class:`ReplyError`
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ReplyError",
    "NIL_ARRAY",
    "NIL_BULK",
    "bulk_size",
    "decimal_digits",
    "encode_reply",
    "reply_size",
    "request_size",
]


class ReplyError:
    """An error reply. ``str()`` is Redis's full error text, e.g. ``"ERR syntax error"``.

    Errors are *returned* by ``Keyspace.execute``, never raised, so any command line can be
    replayed. The first word is the error code Redis counts in ``errorstats``.

    ``rejected`` marks the errors ``processCommand`` answers before ``call()`` (unknown
    command, wrong number of arguments, OOM, MISCONF, CROSSSLOT): Redis counts those in the
    command's ``rejected_calls``, not in its ``calls`` nor in ``total_commands_processed``;
    an error from inside a command counts as one of its ``failed_calls``.
    """

    __slots__ = ("text", "rejected")

    def __init__(self, text: str, rejected: bool = False) -> None:
        # Redis replaces CR/LF in error texts with spaces so the reply stays one line
        # (networking.c:addReplyErrorLength callers / afterErrorReply sanitising).
        if "\r" in text or "\n" in text:
            text = text.replace("\r", " ").replace("\n", " ")
        self.text = text
        self.rejected = rejected

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ReplyError({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReplyError) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("ReplyError", self.text))

    @property
    def code(self) -> str:
        """The error code (first word), as counted by INFO errorstats (``errorstat_ERR``)."""
        return self.text.split(" ", 1)[0]


class _NilArray:
    """Marker for RESP2's nil *array* (``*-1``), e.g. ``LPOP missing 2``.

    Python callers mostly want ``None``; the keyspace returns ``None`` for both nils and
    this marker exists only so that ``encode_reply`` can reproduce the exact bytes when a
    caller asks for it.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "NIL_ARRAY"


NIL_ARRAY = _NilArray()


class _NilBulk:
    """Marker a before-command hook returns to answer a nil bulk string (``$-1``) itself:
    ``None`` from a hook means "not mine, run the command" (e.g. ``MEMORY USAGE`` of a
    missing key, answered by the memory model). The loop replies ``None`` for it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NIL_BULK"


NIL_BULK = _NilBulk()


def decimal_digits(n: int) -> int:
    """Number of characters of ``str(n)`` without building the string for small values."""
    if 0 <= n < 10:
        return 1
    return len(str(n))


def bulk_size(n: int) -> int:
    """Bytes of a bulk string of ``n`` bytes on the wire: ``$<n>\r\n<data>\r\n``."""
    return n + (1 if n < 10 else 2 if n < 100 else len(str(n))) + 5


def encode_reply(reply: object) -> bytes:
    """Encode a reply value as RESP2 bytes."""
    out: list[bytes] = []
    _encode_into(reply, out)
    return b"".join(out)


def _encode_into(reply: Any, out: list[bytes]) -> None:
    cls = type(reply)
    if cls is bytes:
        out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    elif cls is str:
        out.append(b"+" + reply.encode("utf-8", "surrogateescape") + b"\r\n")
    elif cls is int or cls is bool:
        out.append(b":%d\r\n" % reply)
    elif reply is None:
        out.append(b"$-1\r\n")
    elif cls is list or cls is tuple:
        out.append(b"*%d\r\n" % len(reply))
        for item in reply:
            _encode_into(item, out)
    elif cls is ReplyError:
        out.append(b"-" + reply.text.encode("utf-8", "surrogateescape") + b"\r\n")
    elif reply is NIL_ARRAY:
        out.append(b"*-1\r\n")
    else:
        raise TypeError(f"not a reply value: {reply!r}")


def reply_size(reply: Any) -> int:
    """Bytes the reply takes on the wire (RESP2), computed without encoding it."""
    cls = type(reply)
    if cls is bytes:
        return bulk_size(len(reply))
    if cls is str:
        return len(reply.encode("utf-8", "surrogateescape")) + 3
    if cls is int or cls is bool:
        return decimal_digits(int(reply)) + 3
    if reply is None or reply is NIL_ARRAY:
        return 5
    if cls is list or cls is tuple:
        total = decimal_digits(len(reply)) + 3
        for item in reply:
            total += reply_size(item)
        return total
    if cls is ReplyError:
        return len(reply.text.encode("utf-8", "surrogateescape")) + 3
    raise TypeError(f"not a reply value: {reply!r}")


def request_size(args: Sequence[bytes | str]) -> int:
    """Bytes of a command line sent as a RESP multibulk request (what clients send)."""
    total = decimal_digits(len(args)) + 3
    for a in args:
        n = len(a.encode()) if type(a) is str else len(a)  # type: ignore[union-attr]
        total += bulk_size(n)
    return total
