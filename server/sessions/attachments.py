"""Attachments kept out of the session store: each image or PDF a hash-named file.

A stored turn is a SQLite row of pydantic-ai message JSON; an image in it would be
megabytes of base64 read back every turn. Before a turn is stored, each attachment's
bytes go to ``<data dir>/attachments/<sha256>.<ext>`` (written once, 0600) and the turn
keeps a short text reference in its place. Later turns see that reference, not the image:
the model saw the image in the turn it was sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import os
from pathlib import Path
from typing import Any

FOLDER = "attachments"


def _reference(item: dict[str, Any], folder: Path | None) -> str:
    encoded = str(item.get("data") or "")
    try:  # pydantic-ai writes bytes as URL-safe base64; this reads either alphabet
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        data = b""
    digest = hashlib.sha256(data).hexdigest()
    media_type = str(item.get("media_type") or "application/octet-stream")
    name = f"{digest}{mimetypes.guess_extension(media_type) or '.bin'}"
    if folder is not None and data:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
    label = item.get("identifier") or media_type
    return f"[attachment {label} ({media_type}, {len(data)} bytes), kept as {FOLDER}/{name}]"


def keep_out(turn_json: bytes, data_dir: Path | None) -> bytes:
    """``turn_json`` with every binary attachment replaced by a reference to its file."""
    if b'"kind":"binary"' not in turn_json:
        return turn_json
    folder = data_dir / FOLDER if data_dir is not None else None
    messages = json.loads(turn_json)
    for message in messages:
        for part in message.get("parts", []) if message.get("kind") == "request" else []:
            content = part.get("content")
            if part.get("part_kind") != "user-prompt" or not isinstance(content, list):
                continue
            part["content"] = [
                _reference(item, folder)
                if isinstance(item, dict) and item.get("kind") == "binary"
                else item
                for item in content
            ]
    return json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()
