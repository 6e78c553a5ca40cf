"""Tool events in Open WebUI's own format: a ``<details type="tool_calls">`` block per call.

Open WebUI renders these as its native collapsible tool panels. Its attributes hold
JSON, HTML-escaped, as Open WebUI writes them itself: ``arguments`` is the JSON of the
arguments' JSON text, ``result`` the JSON of the result text. Only finished calls are
written (a running one would stay "Executing..." in the text forever). Blocks a
client sends back in its history are taken out before the text reaches a model.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping

from server.agents.tool_tags import format_value_full, truncate

RESULT_LIMIT = 4000  # a panel, not the chat text: room for a real result, still bounded
DETAILS_BLOCK = re.compile(r'<details type="tool_calls"[^>]*>.*?</details>\n?', re.DOTALL)


def details_block(call_id: str, name: str, args: Mapping[str, object], result: object) -> str:
    result_text = result if isinstance(result, str) else format_value_full(result)
    arguments = json.dumps(json.dumps(dict(args), ensure_ascii=False, default=str))
    result_json = json.dumps(truncate(result_text, RESULT_LIMIT), ensure_ascii=False)
    return (
        f'<details type="tool_calls" done="true" id="{html.escape(call_id, quote=True)}" '
        f'name="{html.escape(name, quote=True)}" arguments="{html.escape(arguments, quote=True)}" '
        f'result="{html.escape(result_json, quote=True)}" files="" embeds="">\n'
        "<summary>Tool Executed</summary>\n</details>\n"
    )


def without_details(text: str) -> str:
    """``text`` with Open WebUI's tool blocks taken out (what a model should not read)."""
    return DETAILS_BLOCK.sub("", text) if "<details" in text else text
