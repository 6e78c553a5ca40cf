#!/usr/bin/env python3
"""A stand-in for the ``claude`` CLI as the Claude Agent SDK drives it (stream-json both ways).

The SDK starts it with ``--output-format stream-json --input-format stream-json`` and
speaks NDJSON over stdin/stdout: a ``control_request`` (``initialize`` first) gets a
``control_response``; a ``user`` message gets a ``system``/``init`` message, an
``assistant`` message and a ``result``. End of stdin ends the program.

Each user message is answered in a thread of its own, as fast as its directives allow,
so two prompts sent to one process at once overlap: only the caller can serialize them.
Directives in a prompt: ``[sleep 0.4]`` waits before answering, ``[fail]`` answers with
an error result, ``[exit after reply]`` exits once the answer is written.

It records what happens as JSON lines (``start``, ``initialize``, ``prompt``, ``exit``,
with the pid, the Claude session id and times) in the file ``FAKE_CLAUDE_LOG`` names, or
else ``fake_claude.jsonl`` in its working folder. The answer is
``[<session id> #<turn>] <prompt>``; ``--resume=<id>`` continues that session id. At
the end of its input it exits at once, dropping unfinished answers.
Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import uuid
from typing import Any

VERSION = "2.1.999"  # what it reports as claude_code_version
SLEEP = re.compile(r"\[sleep ([0-9.]+)\]")

PID = os.getpid()
LOG = os.environ.get("FAKE_CLAUDE_LOG") or os.path.join(os.getcwd(), "fake_claude.jsonl")
write_lock = threading.Lock()
turn_lock = threading.Lock()
turns = 0


def option(args: list[str], name: str) -> str | None:
    """``--name value`` or ``--name=value``."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


ARGS = sys.argv[1:]
RESUMED = option(ARGS, "--resume")
SESSION_ID = RESUMED or option(ARGS, "--session-id") or str(uuid.uuid4())
MODEL = option(ARGS, "--model") or "fake-claude"
PERMISSION_MODE = option(ARGS, "--permission-mode") or "default"


def record(event: str, **fields: Any) -> None:
    line = json.dumps({"event": event, "pid": PID, "session_id": SESSION_ID, **fields}) + "\n"
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def send(message: dict[str, Any]) -> None:
    with write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def control_response(request_id: str, response: dict[str, Any]) -> None:
    send(
        {
            "type": "control_response",
            "response": {"subtype": "success", "request_id": request_id, "response": response},
        }
    )


def prompt_text(message: dict[str, Any]) -> str:
    content = message.get("message", {}).get("content", "")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict))


def answer(prompt: str) -> None:
    global turns
    started = time.time()
    with turn_lock:
        turns += 1
        turn = turns
    send(
        {
            "type": "system",
            "subtype": "init",
            "session_id": SESSION_ID,
            "cwd": os.getcwd(),
            "model": MODEL,
            "permissionMode": PERMISSION_MODE,
            "tools": ["Read", "Edit", "Bash"],
            "claude_code_version": VERSION,
            "uuid": str(uuid.uuid4()),
        }
    )
    if sleep := SLEEP.search(prompt):
        time.sleep(float(sleep.group(1)))
    text = f"[{SESSION_ID} #{turn}] {prompt}"
    failed = "[fail]" in prompt
    send(
        {
            "type": "assistant",
            "message": {
                "id": f"msg_{uuid.uuid4().hex}",
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
            "parent_tool_use_id": None,
            "session_id": SESSION_ID,
            "uuid": str(uuid.uuid4()),
        }
    )
    record("prompt", prompt=prompt, turn=turn, start=started, end=time.time())
    send(
        {
            "type": "result",
            "subtype": "error_during_execution" if failed else "success",
            "is_error": failed,
            "duration_ms": int((time.time() - started) * 1000),
            "duration_api_ms": 1,
            "num_turns": turn,
            "result": "the stand-in was told to fail" if failed else text,
            "session_id": SESSION_ID,
            "total_cost_usd": 0.0,
            "usage": {"input_tokens": 10, "output_tokens": 5},
            "uuid": str(uuid.uuid4()),
        }
    )
    if "[exit after reply]" in prompt:
        record("exit", reason="told to")
        os._exit(0)


def main() -> None:
    record(
        "start",
        argv=ARGS,
        cwd=os.getcwd(),
        resumed=RESUMED,
        traymind_keys=os.environ.get("OPENAI_COMPAT_API_KEYS"),  # must not reach Claude Code
        database_secrets={  # nor the shared database's URL and password
            name: os.environ.get(name)
            for name in ("TRAYMIND_STORAGE_URL", "PGPASSWORD", "PGPASSFILE")
            if os.environ.get(name)
        },
        t=time.time(),
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        kind = message.get("type")
        if kind == "control_request":
            request = message.get("request", {})
            subtype = request.get("subtype")
            record("control", subtype=subtype)
            response: dict[str, Any] = {}
            if subtype == "initialize":
                response = {
                    "commands": [],
                    "output_style": "default",
                    "available_output_styles": ["default"],
                    "models": [],
                    "pid": PID,
                }
            control_response(message["request_id"], response)
        elif kind == "user":
            threading.Thread(target=answer, args=(prompt_text(message),), daemon=True).start()
    record("exit", reason="end of input")  # unfinished answers are dropped, as on a close
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
