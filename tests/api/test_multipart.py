"""app.api.multipart against Starlette's own parser, body by body: for every body the short cut
either declines (None) or gives exactly the file contents, in order, that
``request.form(max_files=limit + 1, max_fields=limit + 1).getlist("file")`` gives when that
list is non-empty and all files (the only case predict.py answers with files)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import httpx
import pytest
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from app.api import predict
from app.api.multipart import uploaded_files
from app.errors import InvalidInput

PNG = bytes(range(256)) * 2  # any bytes: the parser does not look inside
LIMITS = (1, 2, 3, 256)
Body = tuple[str, bytes]  # (content type, body)


def _request(content_type: str, body: bytes) -> Request:
    headers = [(b"content-type", content_type.encode("latin-1"))]
    headers.append((b"content-length", str(len(body)).encode()))
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    # "app" in the scope: Starlette then raises HTTPException, as in the app.
    scope = {"type": "http", "method": "POST", "headers": headers, "app": None}
    return Request(scope, receive)


async def _starlette(content_type: str, body: bytes, limit: int) -> list[bytes] | None:
    """What predict.py took from request.form(): the 'file' uploads, or None for an error
    (a refusal, no 'file' part, a 'file' part that is not a file)."""
    request = _request(content_type, body)
    await request.body()  # as predict.py does first: form() must parse the kept body
    try:
        form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    except (MultiPartException, HTTPException):
        return None
    try:
        uploads = form.getlist("file")
        if not uploads or not all(isinstance(u, UploadFile) for u in uploads):
            return None
        return [await u.read() for u in uploads]  # type: ignore[union-attr]
    finally:
        await form.close()


async def _compare(bodies: list[Body]) -> tuple[int, int]:
    """(checked, taken by the short cut); fails on the first body where the two disagree."""
    checked = taken = 0
    for content_type, body in bodies:
        for limit in LIMITS:
            ours = uploaded_files(content_type, body, limit)
            theirs = await _starlette(content_type, body, limit)
            checked += 1
            if ours is not None:
                taken += 1
                assert ours == theirs, (content_type, body, limit)
    return checked, taken


def _httpx(files: list[tuple[str, tuple[str, bytes, str]]], data: dict[str, str]) -> Body:
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.headers["content-type"], request.read()


def _handmade(boundary: str, parts: list[tuple[list[str], bytes]], end: bytes = b"--\r\n") -> Body:
    """curl/browser-style bodies: each part as header lines and data."""
    out = b""
    for headers, data in parts:
        head = "".join(f"{h}\r\n" for h in headers).encode()
        out += b"--" + boundary.encode() + b"\r\n" + head + b"\r\n" + data + b"\r\n"
    return f"multipart/form-data; boundary={boundary}", out + b"--" + boundary.encode() + end


def _disp(name: str, filename: str | None = None) -> str:
    extra = "" if filename is None else f'; filename="{filename}"'
    return f'Content-Disposition: form-data; name="{name}"{extra}'


def _well_formed() -> Iterator[Body]:
    yield _httpx([("file", ("digit.png", PNG, "image/png"))], {})
    yield _httpx([("file", ("a.png", PNG, "image/png")), ("file", ("b.png", b"", "image/png"))], {})
    yield _httpx([("file", ("a b ü.png", PNG[:7], "image/png"))], {"note": "hi", "file2": "x"})
    curl = "------------------------d74496d66958873e"
    yield _handmade(curl, [([_disp("file", "digit.png"), "Content-Type: image/png"], PNG)])
    yield _handmade(curl, [([_disp("file", "x.bin")], b"a\r\nb\r\n\r\nc")], end=b"--")
    web = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    for content in (b"", b"\r\n", b"--" + web.encode(), b"x\r\n-" + web.encode() + b"\r\n", PNG):
        yield _handmade(
            web,
            [
                (
                    [
                        _disp("label"),
                    ],
                    b"seven",
                ),
                ([_disp("file", ""), "Content-Type: application/octet-stream"], content),
                ([_disp("file", "ünï cødé.png"), "content-type: image/png"], PNG[:40]),
            ],
        )


def _unusual() -> Iterator[Body]:
    yield _httpx([("image", ("a.png", PNG, "image/png"))], {})  # no 'file' part
    yield _httpx([("file", ("a.png", PNG, "image/png"))] * 3, {"file": "text"})
    b = "XyZ"
    one = [([_disp("file", "a.png"), "Content-Type: image/png"], PNG[:50])]
    ctype, body = _handmade(b, one)
    yield ctype, body.replace(b"\r\n--XyZ--", b"\r\n--XyZ--\r\nepilogue")
    yield ctype, b"\r\n" + body  # leading CRLF: python-multipart skips it
    yield ctype, b"preamble\r\n" + body
    yield ctype, body[:-4]  # no closing "--"
    yield ctype, body.replace(b"\r\n--XyZ--", b"\r\n--XyZ  \r\n--XyZ--")  # padding
    yield f'multipart/form-data; boundary="{b}"', body
    yield f"multipart/form-data; charset=latin-1; boundary={b}", body
    yield f"Multipart/Form-Data;BOUNDARY={b}", body
    yield f"multipart/form-data; boundary={b}x", body
    for header in (
        "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''a.png",
        'Content-Disposition: form-data; name="file"; filename="a\\"b.png"',
        'Content-Disposition: form-data; name="fi\\"le"; filename="a.png"',
        'Content-Disposition: form-data; name="file"; filename="a;b.png"',
        'Content-Disposition: form-data; name=file; filename="a.png"',
        'Content-Disposition: form-data;name="file";filename="a.png"',
        'Content-Disposition:form-data; name="file"; filename="C:\\\\x\\\\a.png"',
        'content-disposition:    form-data; name="file"; filename="a.png"',
        'Content-Disposition:\tform-data; name="file"; filename="a.png"',
        'Content-Disposition: form-data; name="file"; filename="a.png" ',
        'Content-Disposition: form-data; filename="a.png"',
        'Content-Disposition: attachment; name="file"; filename="a.png"',
        'Content-Disposition: form-data; name="file"',
        'Content-Disposition: form-data; name="file"; filename="' + "x" * 5000 + '"',
    ):
        yield _handmade(b, [([header], PNG[:30])])
    for extra in (
        ["Content-Transfer-Encoding: quoted-printable"],
        ["Content-Type: image/png", "Content-Type: image/gif"],
        [_disp("other", "b.png")],
        [" continued"],
        ["Content-Type : image/png"],
        ["Content-Length: 30"],
        ["Content-Type: image/png\n"],
    ):
        yield _handmade(b, [([_disp("file", "a.png"), *extra], PNG[:30])])
    yield _handmade(b, [([], PNG[:30])])
    yield _handmade(b, [([_disp("file")], b"text")])
    yield _handmade(b, [([_disp("note")], b"t" * (1024 * 1024)), *one])
    yield _handmade(b, [([_disp("note")], b"t" * (1024 * 1024 - 1)), *one])
    yield _handmade(b, one * 4)  # over the smaller limits
    yield _handmade(b, [([_disp("a")], b"1"), ([_disp("b")], b"2"), *one])
    yield _handmade(b, [([_disp("file", "a")], b"1\r\n--XyZ--\r\n--XyZ\r\nmore")])
    yield _handmade(b, [([_disp("file", "a")], b"1\r\n--XyZ\r\rx")])
    yield _handmade(b, [([_disp("file", "a")], b"1\r\n--XyZx")])
    yield ctype, b"--XyZ--\r\n"


def _mutations(bodies: list[Body], count: int, seed: int = 12) -> Iterator[Body]:
    """Random byte deletions, insertions and replacements, biased towards the bytes that
    carry the structure (CR, LF, '-', '"', ';', ':')."""
    rng = random.Random(seed)
    alphabet = b'\r\n-";:= \tXyZab\\*'
    for _ in range(count):
        content_type, body = rng.choice(bodies)
        data = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            kind = rng.randrange(3)
            if kind == 0 and at < len(data):
                del data[at]
            elif kind == 1:
                data.insert(at, rng.choice(alphabet))
            elif at < len(data):
                data[at] = rng.choice(alphabet)
        yield content_type, bytes(data)


def test_well_formed_bodies_are_taken_and_equal() -> None:
    bodies = list(_well_formed())
    checked, taken = asyncio.run(_compare(bodies))
    assert checked == len(bodies) * len(LIMITS) and taken > checked // 2
    # Every one is taken while its parts are within the limit (limit + 1 parts at most).
    assert all(uploaded_files(*body, 256) is not None for body in bodies)


def test_unusual_bodies_decline_or_agree() -> None:
    bodies = list(_unusual())
    checked, taken = asyncio.run(_compare(bodies))
    assert checked == len(bodies) * len(LIMITS)
    assert 0 < taken < checked


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_truncated_at_every_offset(index: int) -> None:
    content_type, body = list(_well_formed())[index]
    bodies = [(content_type, body[:cut]) for cut in range(len(body) + 1)]
    checked, taken = asyncio.run(_compare(bodies))
    assert checked == len(bodies) * len(LIMITS)
    # Only the whole body, and the body less its final CRLF, are complete.
    assert 0 < taken <= 2 * len(LIMITS)


def test_mutated_bodies_decline_or_agree() -> None:
    seeds = [*_well_formed(), *_unusual()][:-1]
    seeds = [(c, b) for c, b in seeds if len(b) < 10_000]
    checked, taken = asyncio.run(_compare(list(_mutations(seeds, 3000))))
    assert checked == 3000 * len(LIMITS) and taken > 0


def test_a_declined_body_is_still_parsed_by_request_form() -> None:
    """predict.py reads the body before the short cut; Starlette keeps it, so request.form()
    still parses it and its refusals stay the answers."""
    b = "XyZ"
    ctype, body = _handmade(b, [([_disp("file", "a.png")], PNG[:9])])
    quoted = f'multipart/form-data; boundary="{b}"'
    assert asyncio.run(predict._uploaded_files(_request(quoted, body), 4)) == [PNG[:9]]
    ctype, text = _handmade(b, [([_disp("file")], b"text")])
    with pytest.raises(InvalidInput, match="not a file"):
        asyncio.run(predict._uploaded_files(_request(ctype, text), 4))
    with pytest.raises(InvalidInput, match="could not be parsed"):
        asyncio.run(predict._uploaded_files(_request(ctype, b"--XyZ\r\n\r\n"), 4))
