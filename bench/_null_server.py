"""A null HTTP server: canned answers at once, to measure the load generator's own cost.

``python -m bench._null_server`` prints ``null listening http://127.0.0.1:PORT/v1``.
A request with ``"stream":true`` gets an SSE stream of 50 content events and
``[DONE]`` in one write; any other request gets a fixed ``chat.completion``.
Whatever the generator measures against it is the floor: loopback TCP, the
generator's parsing and its event loop, and nothing of a real server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from bench._client import new_loop

STREAM_EVENTS = 50

_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-null",
        "object": "chat.completion",
        "created": 0,
        "model": "null",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    separators=(",", ":"),
).encode()
_EVENT = (
    b'data: {"id":"chatcmpl-null","object":"chat.completion.chunk","created":0,'
    b'"model":"null","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}\n\n'
)


def _response(body: bytes, content_type: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: "
        + content_type
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


PLAIN = _response(_COMPLETION, b"application/json")
STREAM = _response(_EVENT * STREAM_EVENTS + b"data: [DONE]\n\n", b"text/event-stream")


class NullProtocol(asyncio.Protocol):
    """Reads a request head and its Content-Length body, answers, repeats."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            end = head_end + 4 + length
            if len(self._buffer) < end:
                return
            body = self._buffer[head_end + 4 : end]
            self._buffer = self._buffer[end:]
            assert self._transport is not None
            self._transport.write(STREAM if b'"stream":true' in body else PLAIN)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(NullProtocol, "127.0.0.1", 0, backlog=2048)
    port = server.sockets[0].getsockname()[1]
    print(f"null listening http://127.0.0.1:{port}/v1", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    argparse.ArgumentParser(prog="python -m bench._null_server", description=__doc__).parse_args()
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
