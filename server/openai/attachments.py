"""Images and PDFs in a chat message: ``image_url`` and ``file`` content parts.

They reach the model as pydantic-ai inputs (``ImageUrl``, ``DocumentUrl`` or
``BinaryContent``) when the agent's model takes them (``models.<name>.vision``);
otherwise the text is kept and the answer says the attachment was not seen.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from server.errors import InvalidRequest, PayloadTooLarge

DATA_URI = re.compile(
    r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),(?P<data>.*)", re.S
)


@dataclass(frozen=True, slots=True)
class Attachment:
    """One image or document: a URL the provider fetches, or the bytes themselves."""

    kind: str  # "image" or "document"
    url: str | None = None
    data: bytes | None = None
    media_type: str | None = None
    name: str | None = None


def _decoded(uri: str, param: str, limit: int) -> tuple[bytes, str]:
    """The bytes and media type of a ``data:`` URL (base64 or percent-encoded)."""
    found = DATA_URI.fullmatch(uri)
    if found is None:
        raise InvalidRequest("A data: URL must look like data:image/png;base64,....", param=param)
    encoded = found.group("data")
    if len(encoded) * 3 // 4 > limit:
        raise PayloadTooLarge(
            f"An attachment is larger than {limit} bytes (server.max_image_bytes).", param=param
        )
    media_type = found.group("type") or "text/plain"
    if ";base64" not in found.group("params"):
        return unquote_to_bytes(encoded), media_type
    try:
        return base64.b64decode(encoded, validate=False), media_type
    except (binascii.Error, ValueError):
        raise InvalidRequest("A data: URL does not hold valid base64.", param=param) from None


def _from_url(
    kind: str, url: object, param: str, limit: int, name: str | None = None
) -> Attachment | None:
    """The attachment a URL names; None for an empty ``data:`` URL (nothing to send)."""
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"The {kind} part needs a URL.", param=param)
    if url.startswith("data:"):
        data, media_type = _decoded(url, param, limit)
        return Attachment(kind, data=data, media_type=media_type, name=name) if data else None
    if url.startswith(("https://", "http://")):
        return Attachment(kind, url=url, name=name)
    raise InvalidRequest(f"The {kind} URL must be https:// or a data: URL.", param=param)


def attachments_of(content: object, index: int, limit: int) -> tuple[Attachment, ...]:
    """The images and files of one message's content array (none for a string)."""
    if not isinstance(content, list):
        return ()
    found: list[Attachment | None] = []
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            continue
        param = f"messages[{index}].content[{j}]"
        kind = part.get("type")
        if kind == "image_url":
            image: Any = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            found.append(_from_url("image", url, param, limit))
        elif kind == "file":
            file: Any = part.get("file")
            if not isinstance(file, dict):
                raise InvalidRequest("A file part needs a 'file' object.", param=param)
            name = file.get("filename") if isinstance(file.get("filename"), str) else None
            data = file.get("file_data")
            if not isinstance(data, str):
                raise InvalidRequest(
                    "A file part needs 'file_data' (a data: URL); file ids are not supported.",
                    param=param,
                )
            uri = data if data.startswith("data:") else f"data:application/pdf;base64,{data}"
            found.append(_from_url("document", uri, param, limit, name))
    return tuple(item for item in found if item is not None)
