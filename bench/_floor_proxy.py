"""A reference relay on Traymind's own stack, without the agent runtime: the achievable floor.

``python -m bench._floor_proxy --upstream URL [--model ID]`` prints
``floor listening http://127.0.0.1:PORT/v1``. It does what a tool-less agent
turn needs and nothing more: FastAPI + uvicorn (uvloop, httptools), one shared
httpx pool to the provider, the agent's instructions as a system message,
history read from and written to ``server.sessions.HistoryStore`` when the
request names a session, and chunks re-encoded by Traymind's own
``server.openai.sse.ChunkEncoder``. The benchmarks measure it beside Traymind,
so the cost of everything between the two (pydantic-ai, the provider SDK) is on
record; it is not part of Traymind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from bench._client import new_loop
from server.openai.sse import DONE, ChunkEncoder
from server.sessions import HistoryStore, SessionRef

SYSTEM = "You are GeneralAgent. Your role: General-purpose assistant.\nGive clear, helpful answers."
CHAR_BUDGET = 32_768 * 3


def _completion(model: str, text: str, usage: dict[str, int]) -> bytes:
    body = {
        "id": "chatcmpl-" + secrets.token_hex(12),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }
    return json.dumps(body, separators=(",", ":")).encode()


class Relay:
    """The relay's one service: history in, provider call, history out."""

    def __init__(self, upstream: str, model: str, store: HistoryStore) -> None:
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
        self.client = httpx.AsyncClient(base_url=upstream, timeout=120, limits=limits)
        self.model = model
        self.store = store

    async def history(self, ref: SessionRef | None) -> list[dict[str, str]]:
        if ref is None:
            return []
        turns = await asyncio.to_thread(self.store.recent_turns, ref, CHAR_BUDGET)
        return [m for turn in turns for m in json.loads(turn)]

    async def remember(self, ref: SessionRef | None, user: dict[str, str], text: str) -> None:
        if ref is not None:
            turn = json.dumps([user, {"role": "assistant", "content": text}]).encode()
            await asyncio.to_thread(self.store.append_turn, ref, turn)

    async def complete(self, body: dict[str, object], ref: SessionRef | None) -> Response:
        user = body["messages"][-1]  # type: ignore[index]
        messages = [{"role": "system", "content": SYSTEM}, *await self.history(ref), user]
        payload = {"model": self.model, "messages": messages, "stream": bool(body.get("stream"))}
        if not payload["stream"]:
            answer = (await self.client.post("/chat/completions", json=payload)).json()
            text = answer["choices"][0]["message"]["content"]
            await self.remember(ref, user, text)
            return Response(
                _completion(str(body["model"]), text, answer["usage"]),
                media_type="application/json",
            )
        request = self.client.build_request("POST", "/chat/completions", json=payload)
        upstream = await self.client.send(request, stream=True)
        encoder = ChunkEncoder(
            "chatcmpl-" + secrets.token_hex(12),
            int(time.time()),
            str(body["model"]),
            include_usage=False,
        )
        return StreamingResponse(
            self._relay(upstream, encoder, ref, user), media_type="text/event-stream"
        )

    async def _relay(
        self,
        upstream: httpx.Response,
        encoder: ChunkEncoder,
        ref: SessionRef | None,
        user: dict[str, str],
    ) -> AsyncIterator[bytes]:
        parts: list[str] = []
        try:
            yield encoder.role()
            async for line in upstream.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                choices = json.loads(line[6:]).get("choices") or [{}]
                text = choices[0].get("delta", {}).get("content")
                if text:
                    parts.append(text)
                    yield encoder.content(text)
            yield encoder.finish()
            yield DONE
        finally:
            await upstream.aclose()
        await self.remember(ref, user, "".join(parts))


def create_app(relay: Relay) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        session = request.headers.get("x-session-id")
        ref = SessionRef("noauth", session, "general", "session") if session else None
        return await relay.complete(body, ref)

    return app


async def serve(args: argparse.Namespace, data_dir: Path) -> None:
    store = HistoryStore(data_dir / "sessions.sqlite3")
    store.open()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(Relay(args.upstream, args.model, store)),
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    print(f"floor listening http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    await task


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._floor_proxy", description=__doc__)
    parser.add_argument("--upstream", required=True, help="the provider's base URL (…/v1)")
    parser.add_argument("--model", default="test-model")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="traymind-floor-") as tmp,
        asyncio.Runner(loop_factory=new_loop) as runner,
    ):
        runner.run(serve(args, Path(tmp)))


if __name__ == "__main__":
    main()
