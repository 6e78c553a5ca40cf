"""The ``web_fetch`` tool: fetch a URL and return its readable text, size- and time-capped.

Two guards keep an agent from reaching into the user's network. First our own
check (``addresses.check_url``): the host is resolved and every address it
resolves to must be public. Then pydantic-ai's fetcher (``web_fetch_tool``, its
SSRF-protected download) connects to the address it validated itself, checks
every redirect the same way, and caps the download; it also turns HTML into
Markdown. ``allow_private: true`` lifts the address rule (cloud metadata
addresses stay blocked by pydantic-ai).
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from server.tools.addresses import RefusedAddress, check_url

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from pydantic_ai import Tool

SUMMARY = "Fetches a web page and returns its readable text; public addresses only by default."

PYDANTIC_AI_HINT = ' Use force_download="allow-local" to allow local network access.'


class Options(BaseModel):
    """``web_fetch`` options."""

    model_config = ConfigDict(extra="forbid")

    allow_private: bool = False
    """Allow loopback, private and link-local addresses (this machine, the LAN)."""
    timeout_seconds: float = Field(default=20, gt=0, le=300)
    """The longest a whole fetch (redirects included) may take."""
    max_download_bytes: int = Field(default=5_000_000, gt=0)
    """Responses larger than this are refused."""
    max_chars: int = Field(default=50_000, gt=0)
    """The returned text is cut after this many characters."""


class WebFetchTool:
    """``web_fetch`` bound to one agent's options."""

    def __init__(self, options: Options) -> None:
        from pydantic_ai.common_tools.web_fetch import web_fetch_tool

        self.options = options
        fetcher = web_fetch_tool(
            max_content_length=options.max_chars,
            allow_local_urls=options.allow_private,
            timeout=math.ceil(options.timeout_seconds),
            max_download_bytes=options.max_download_bytes,
        )
        self._download: Callable[[str], Awaitable[Any]] = fetcher.function

    async def web_fetch(self, url: str) -> str:
        """Fetch a web page (http or https) and return its text, with HTML converted to Markdown.

        Args:
            url: The full URL, e.g. https://example.com/page.
        """
        from pydantic_ai.exceptions import ModelRetry

        url = url.strip()
        try:
            async with asyncio.timeout(self.options.timeout_seconds):
                if not self.options.allow_private:
                    await check_url(url)
                result = await self._download(url)
        except RefusedAddress as exc:
            return f"Error: refused to fetch {url}: {exc}"
        except TimeoutError:
            return f"Error: {url} took longer than {self.options.timeout_seconds:g} seconds"
        except ModelRetry as exc:
            return f"Error: {str(exc.message).replace(PYDANTIC_AI_HINT, '')}"
        return _as_text(url, result)


def build(options: Options) -> list[Tool]:
    from pydantic_ai import Tool

    tool = WebFetchTool(options)
    reach = (
        "any address, including this machine and its network"
        if options.allow_private
        else "public internet addresses only"
    )
    description = (
        "Fetch a web page and return its readable text (HTML as Markdown), "
        f"at most {options.max_chars} characters. Reaches {reach}."
    )
    return [Tool(tool.web_fetch, name="web_fetch", takes_ctx=False, description=description)]


def _as_text(url: str, result: Any) -> str:
    if not isinstance(result, dict):  # BinaryContent: a PDF, an image...
        media_type = getattr(result, "media_type", "binary")
        return f"Error: {url} is {media_type} content, not text"
    title = result.get("title") or ""
    heading = f"# {title}\n" if title else ""
    return f"{heading}URL: {result.get('url', url)}\n\n{result.get('content', '')}"
