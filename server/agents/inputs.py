"""A message's attachments as pydantic-ai model inputs, for models that take them."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.messages import BinaryContent, DocumentUrl, ImageUrl, UserContent

from server.openai.attachments import Attachment

NOT_SEEN = (
    "[Traymind: this agent's model does not take images or files, so the attachment was "
    "not seen; set `vision: true` on a model that does.]\n\n"
)


def model_inputs(attachments: Sequence[Attachment]) -> list[UserContent]:
    inputs: list[UserContent] = []
    for item in attachments:
        if item.data is not None:
            media_type = item.media_type or "application/octet-stream"
            inputs.append(BinaryContent(item.data, media_type=media_type, identifier=item.name))
        elif item.kind == "image":
            inputs.append(ImageUrl(item.url or ""))
        else:
            inputs.append(DocumentUrl(item.url or ""))
    return inputs
