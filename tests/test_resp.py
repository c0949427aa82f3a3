"""RESP2 encoding and sizes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.server.resp import NIL_ARRAY, ReplyError, encode_reply, reply_size, request_size


def test_encode_each_type() -> None:
    assert encode_reply("OK") == b"+OK\r\n"
    assert encode_reply(b"foo") == b"$3\r\nfoo\r\n"
    assert encode_reply(b"") == b"$0\r\n\r\n"
    assert encode_reply(-12) == b":-12\r\n"
    assert encode_reply(None) == b"$-1\r\n"
    assert encode_reply(NIL_ARRAY) == b"*-1\r\n"
    assert encode_reply([b"a", 1, None, [b"b"]]) == b"*4\r\n$1\r\na\r\n:1\r\n$-1\r\n*1\r\n$1\r\nb\r\n"
    assert encode_reply(ReplyError("ERR syntax error")) == b"-ERR syntax error\r\n"


def test_reply_error() -> None:
    e = ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert str(e).startswith("WRONGTYPE") and e.code == "WRONGTYPE"
    assert ReplyError("ERR a\r\nb") == ReplyError("ERR a  b")  # CR/LF become spaces


def test_request_size() -> None:
    assert request_size([b"GET", b"key"]) == len(b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
    assert request_size(["SET", "k", "é"]) == len("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n".encode())


replies = st.recursive(
    st.one_of(st.none(), st.integers(-(1 << 63), (1 << 63) - 1), st.binary(max_size=300),
              st.text(alphabet="abcOK ", max_size=20), st.builds(ReplyError, st.text(alphabet="ERR xyz", max_size=20))),
    lambda inner: st.lists(inner, max_size=12),
    max_leaves=40,
)


@settings(max_examples=300, derandomize=True)
@given(replies)
def test_reply_size_equals_encoded_length(reply: object) -> None:
    assert reply_size(reply) == len(encode_reply(reply))
