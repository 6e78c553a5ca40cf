"""Tool approvals over real HTTP: a side-effect tool call waits until the owner decides.

The stand-in provider asks for ``run_shell`` (which asks by default); the test decides
through ``/api/approvals`` with an owner key, and checks on disk that an allowed command
ran exactly once and a denied one never ran, and what the model was told.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from server.approvals.broker import DENIED, UNANSWERED
from server.keys.client_keys import KeyStore
from server.runner import ServerHandle
from tests.harness import agent_config, client, http, running_server
from tests.openapi_validation import validate
from tests.upstream import Reply, Upstream

CLIENT_KEY = "sk-test-approvals-client"


@pytest.fixture
def owner_key(tmp_path: Path) -> str:
    _, key = KeyStore.open(tmp_path / "data", "file").create("me", owner=True)
    return key


def shell_agent(upstream: Upstream, work: Path, **extra: Any) -> dict[str, Any]:
    tool = {"shell": {"cwd": str(work), "timeout_seconds": 10, **extra}}
    return agent_config(upstream.base_url, ops={"tools": [tool]})


def script_touch(upstream: Upstream, marker: Path) -> None:
    command = f"echo ran >> {marker.name}"
    upstream.script(Reply.tool_calls([("run_shell", {"command": command})]), Reply.text("over"))


def owner(handle: ServerHandle, key: str) -> httpx.Client:
    api = http(handle)
    api.headers["Authorization"] = f"Bearer {key}"
    return api


def wait_pending(api: httpx.Client, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get("/api/approvals")
        assert response.status_code == 200, response.text
        pending = response.json()["data"]
        if len(pending) >= count:
            return pending
        time.sleep(0.02)
    raise AssertionError(f"no {count} pending approval(s) within {timeout} s")


class Background:
    """A chat request running in a thread, so the test can decide while it waits."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.result = call()
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = 20) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the request did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def ask(handle: ServerHandle, key: str = CLIENT_KEY, **headers: str) -> Background:
    chat = client(handle, key, **headers)
    return Background(
        lambda: chat.chat.completions.create(
            model="ops", messages=[{"role": "user", "content": "touch it"}]
        )
    )


def tool_result(upstream: Upstream) -> str:
    return upstream.chat_requests[1].body["messages"][-1]["content"]


@pytest.fixture
def served(
    tmp_path: Path, upstream: Upstream, owner_key: str
) -> Iterator[tuple[ServerHandle, Path]]:
    work = tmp_path / "work"
    work.mkdir()
    with running_server(
        tmp_path, shell_agent(upstream, work), env={"OPENAI_COMPAT_API_KEYS": CLIENT_KEY}
    ) as handle:
        yield handle, work


def test_an_allowed_command_runs_exactly_once(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str
) -> None:
    handle, work = served
    marker = work / "marker.txt"
    script_touch(upstream, marker)
    run = ask(handle, **{"X-Session-Id": "s1"})
    api = owner(handle, owner_key)
    (pending,) = wait_pending(api)
    assert not marker.exists(), "the command ran before anyone allowed it"
    assert pending["agent"] == "ops"
    assert pending["tool"] == "run_shell"
    assert pending["arguments"] == {"command": "echo ran >> marker.txt"}
    assert pending["client"] == "OpenAI SDK"
    assert pending["session"] == "s1"
    assert pending["expires"] - pending["created"] == pytest.approx(120, abs=1)
    decided = api.post(f"/api/approvals/{pending['id']}", json={"allow": True})
    assert decided.status_code == 200, decided.text
    assert decided.json() == {
        "id": pending["id"],
        "allowed": True,
        "always": False,
        "by": "owner key 'me'",
    }
    answer = run.join()
    assert marker.read_text() == "ran\n"
    assert tool_result(upstream) == "(no output)\n[exit code 0]"
    assert answer.choices[0].message.content.endswith("over")
    assert api.get("/api/approvals").json()["data"] == []
    (record,) = api.get("/api/approvals").json()["recent"]
    assert record["allowed"] is True and record["by"] == "owner key 'me'"
    assert record["tool"] == "run_shell" and "marker.txt" in record["summary"]


def test_a_denied_command_never_runs_and_the_model_is_told(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str
) -> None:
    handle, work = served
    marker = work / "marker.txt"
    script_touch(upstream, marker)
    run = ask(handle)
    api = owner(handle, owner_key)
    (pending,) = wait_pending(api)
    assert api.post(f"/api/approvals/{pending['id']}", json={"allow": False}).status_code == 200
    answer = run.join()
    assert not marker.exists()
    assert tool_result(upstream) == DENIED
    assert DENIED.replace(",", "") in answer.choices[0].message.content.replace(",", "")


def test_a_decision_is_taken_once(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str
) -> None:
    handle, work = served
    script_touch(upstream, work / "marker.txt")
    run = ask(handle)
    api = owner(handle, owner_key)
    (pending,) = wait_pending(api)
    handle.approvals.decide(pending["id"], True, by="tray")  # as the tray's dialog does
    again = api.post(f"/api/approvals/{pending['id']}", json={"allow": False})
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "approval_not_found"
    run.join()
    assert (work / "marker.txt").read_text() == "ran\n"
    assert [r["by"] for r in api.get("/api/approvals").json()["recent"]] == ["tray"]


def test_no_answer_in_time_denies(tmp_path: Path, upstream: Upstream, owner_key: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = {**shell_agent(upstream, work), "approval_timeout_seconds": 0.3}
    script_touch(upstream, work / "marker.txt")
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": CLIENT_KEY}) as handle:
        ask(handle).join()
        recent = owner(handle, owner_key).get("/api/approvals").json()["recent"]
    assert not (work / "marker.txt").exists()
    assert tool_result(upstream) == UNANSWERED
    assert [(r["allowed"], r["by"]) for r in recent] == [(False, "timeout")]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_the_owner_may_see_or_decide(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str, method: str
) -> None:
    handle, work = served
    script_touch(upstream, work / "marker.txt")
    run = ask(handle)
    (pending,) = wait_pending(owner(handle, owner_key))
    path = "/api/approvals" if method == "GET" else f"/api/approvals/{pending['id']}"
    body = None if method == "GET" else json.dumps({"allow": True})
    for headers, status in (
        ({"Authorization": f"Bearer {CLIENT_KEY}"}, 403),  # the chat app that asked
        ({}, 401),
        ({"Authorization": "Bearer sk-wrong"}, 401),
    ):
        response = http(handle).request(method, path, headers=headers, content=body)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        if status == 403:
            assert error["code"] == "permission_denied"
            assert "owner key" in error["message"]
    assert wait_pending(owner(handle, owner_key))[0]["id"] == pending["id"]  # still waiting
    handle.approvals.decide(pending["id"], False, by="tray")
    run.join()
    assert not (work / "marker.txt").exists()


def test_unauthenticated_local_access_cannot_decide(tmp_path: Path, upstream: Upstream) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script_touch(upstream, work / "marker.txt")
    env = {"OPENAI_COMPAT_ALLOW_UNAUTHENTICATED": "1"}
    with running_server(tmp_path, shell_agent(upstream, work), env=env) as handle:
        run = ask(handle, "no-key")
        deadline = time.monotonic() + 10
        while not handle.approvals.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        (pending,) = handle.approvals.pending()
        api = http(handle)
        assert api.get("/api/approvals").status_code == 403
        assert api.post(f"/api/approvals/{pending.id}", json={"allow": True}).status_code == 403
        handle.approvals.decide(pending.id, False, by="tray")
        run.join()
    assert not (work / "marker.txt").exists()


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"allow": "yes"}', b'{"allow": true, "always": 1}',
     b'{"allow": true, "extra": 1}', b'{"allow": true}' + b" " * 5000],
)  # fmt: skip
def test_a_malformed_decision_is_400_and_decides_nothing(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str, body: bytes
) -> None:
    handle, work = served
    script_touch(upstream, work / "marker.txt")
    run = ask(handle)
    api = owner(handle, owner_key)
    (pending,) = wait_pending(api)
    response = api.post(f"/api/approvals/{pending['id']}", content=body)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert wait_pending(api)[0]["id"] == pending["id"]
    handle.approvals.decide(pending["id"], False, by="tray")
    run.join()


def test_always_allow_is_written_to_the_config_and_asks_no_more(
    tmp_path: Path, upstream: Upstream, owner_key: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    text = (
        "# my agents\n"
        "models:\n"
        f"  default: {{provider: openai, id: test-model, base_url: '{upstream.base_url}'}}\n"
        "agents:\n"
        "  ops:  # runs commands\n"
        "    tools:\n"
        f"      - shell: {{cwd: {work}, timeout_seconds: 10}}\n"
        "      - calculator\n"
    )
    marker = work / "marker.txt"
    with running_server(tmp_path, text, env={"OPENAI_COMPAT_API_KEYS": CLIENT_KEY}) as handle:
        api = owner(handle, owner_key)
        script_touch(upstream, marker)
        run = ask(handle)
        (pending,) = wait_pending(api)
        decided = api.post(f"/api/approvals/{pending['id']}", json={"allow": True, "always": True})
        assert decided.json()["always"] is True
        run.join()
        written = (tmp_path / "config.yaml").read_text()
        assert written == text.replace(
            "timeout_seconds: 10}", "timeout_seconds: 10, approval: auto}"
        )
        script_touch(upstream, marker)
        ask(handle).join(timeout=10)  # no approval needed: it finishes by itself
        assert handle.approvals.pending() == []
    assert marker.read_text() == "ran\nran\n"


def test_read_only_tools_run_without_asking_and_writes_ask(
    tmp_path: Path, upstream: Upstream, owner_key: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("old\n")
    config = agent_config(
        upstream.base_url,
        ops={"tools": ["calculator", {"files": {"roots": [str(work)], "write": True}}]},
    )
    upstream.script(
        Reply.tool_calls(
            [("calculator", {"expression": "6*7"}), ("read_file", {"path": "notes.txt"})]
        ),
        Reply.tool_calls([("write_file", {"path": "notes.txt", "content": "new\n"})]),
        Reply.text("written"),
    )
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": CLIENT_KEY}) as handle:
        run = ask(handle)
        api = owner(handle, owner_key)
        (pending,) = wait_pending(api)
        assert pending["tool"] == "write_file"
        assert "-old\n+new" in (pending["preview"] or "")
        first = [m for m in upstream.chat_requests[1].body["messages"] if m["role"] == "tool"]
        assert [m["content"] for m in first] == ["42", "old\n"]  # ran without asking
        assert (work / "notes.txt").read_text() == "old\n"
        api.post(f"/api/approvals/{pending['id']}", json={"allow": True})
        run.join()
    assert (work / "notes.txt").read_text() == "new\n"


def test_a_stream_shows_the_tool_and_stays_alive_while_it_waits(
    tmp_path: Path, upstream: Upstream, owner_key: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = {**shell_agent(upstream, work), "server": {"stream_keepalive_seconds": 0.2}}
    script_touch(upstream, work / "marker.txt")
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": CLIENT_KEY}) as handle:
        api = owner(handle, owner_key)
        body = {"model": "ops", "stream": True, "messages": [{"role": "user", "content": "go"}]}
        lines: list[str] = []
        headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
        with http(handle).stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
            assert r.status_code == 200
            stream = r.iter_lines()
            while not any('state=\\"start\\"' in line for line in lines):
                lines.append(next(stream))
            (pending,) = wait_pending(api)
            time.sleep(0.5)
            api.post(f"/api/approvals/{pending['id']}", json={"allow": False})
            lines.extend(stream)
    assert ": keep-alive" in lines
    assert [line for line in lines if line][-1] == "data: [DONE]"
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in lines
        if line.startswith("data: {") and json.loads(line[6:])["choices"]
    )
    assert DENIED.replace(",", "&#x2c;")[:20] in text or DENIED[:20] in text
    assert not (work / "marker.txt").exists()


def test_a_client_that_leaves_withdraws_its_request(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str
) -> None:
    handle, work = served
    script_touch(upstream, work / "marker.txt")
    api = owner(handle, owner_key)
    body = {"model": "ops", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    with http(handle).stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
        lines = r.iter_lines()  # held: a dropped iterator closes the connection
        next(lines)
        (pending,) = wait_pending(api)
    deadline = time.monotonic() + 10
    while api.get("/api/approvals").json()["data"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.get("/api/approvals").json()["data"] == []
    gone = api.post(f"/api/approvals/{pending['id']}", json={"allow": True})
    assert gone.status_code == 404
    assert not (work / "marker.txt").exists()
    assert api.get("/api/approvals").json()["recent"][-1]["allowed"] is False


def terminal(handle: ServerHandle, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAYMIND_OWNER_KEY": key, "TRAYMIND_URL": handle.url}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "approvals", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_terminal_lists_allows_and_denies(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str
) -> None:
    handle, work = served
    marker = work / "marker.txt"
    script_touch(upstream, marker)
    run = ask(handle)
    (pending,) = wait_pending(owner(handle, owner_key))
    listed = terminal(handle, owner_key, "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ID", "AGENT", "TOOL", "CLIENT", "LEFT", "ARGUMENTS"]
    assert row.split()[:4] == [pending["id"], "ops", "run_shell", "OpenAI"]
    assert "marker.txt" in row
    shown = terminal(handle, owner_key, "show", pending["id"])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("ops wants to use run_shell\nclient: OpenAI SDK")
    assert shown.stdout.rstrip().endswith("command: echo ran >> marker.txt")
    as_json = terminal(handle, owner_key, "list", "--json")
    assert [p["id"] for p in json.loads(as_json.stdout)] == [pending["id"]]
    allowed = terminal(handle, owner_key, "allow", pending["id"])
    assert allowed.returncode == 0 and f"Allowed {pending['id']}." in allowed.stderr
    run.join()
    assert marker.read_text() == "ran\n"
    again = terminal(handle, owner_key, "deny", pending["id"])
    assert again.returncode == 1 and "No approval" in again.stderr

    upstream.clear()
    script_touch(upstream, marker)
    run = ask(handle)
    (pending,) = wait_pending(owner(handle, owner_key))
    assert terminal(handle, owner_key, "deny", pending["id"]).returncode == 0
    run.join()
    assert marker.read_text() == "ran\n"  # the denied second command never ran


def test_the_terminal_needs_an_owner_key(served: tuple[ServerHandle, Path], owner_key: str) -> None:
    handle, _ = served
    missing = terminal(handle, "", "list")
    assert missing.returncode == 1 and "TRAYMIND_OWNER_KEY" in missing.stderr
    client_key = terminal(handle, CLIENT_KEY, "list")
    assert client_key.returncode == 1 and "owner key" in client_key.stderr
    assert CLIENT_KEY not in client_key.stderr + client_key.stdout
    handle_url = handle.url
    handle.stop()
    down = terminal(handle, owner_key, "list")
    assert down.returncode == 2 and handle_url.removesuffix("/v1") in down.stderr


# --- in-band: a Responses client asks its own user (approval_in_band: true) -------------

TRAYMIND_MCP = {
    "type": "mcp",
    "server_label": "traymind",
    "server_url": "http://127.0.0.1/unused",
    "require_approval": "always",
}


def in_band_server(tmp_path: Path, upstream: Upstream, **top: Any):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    config = {**shell_agent(upstream, work), **top}
    return work, running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": CLIENT_KEY})


@pytest.mark.parametrize("approve", [True, False])
def test_a_responses_client_approves_in_band(
    tmp_path: Path, upstream: Upstream, owner_key: str, approve: bool
) -> None:
    work, server = in_band_server(tmp_path, upstream, approval_in_band=True)
    script_touch(upstream, work / "marker.txt")
    with server as handle:
        api = client(handle, CLIENT_KEY)
        reply = api.responses.with_raw_response.create(
            model="ops", input="touch it", tools=[TRAYMIND_MCP]
        )
        raw, first = reply.http_response.json(), reply.parse()
        validate("Response", raw)
        kinds = [(item["type"], item.get("status")) for item in raw["output"]]
        assert kinds == [("mcp_call", "incomplete"), ("mcp_approval_request", None)]
        call, request = raw["output"]
        assert call["approval_request_id"] == request["id"]
        assert (request["server_label"], request["name"]) == ("traymind", "run_shell")
        assert json.loads(request["arguments"]) == {"command": "echo ran >> marker.txt"}
        assert handle.approvals.pending() == []  # nobody else is asked
        assert not (work / "marker.txt").exists()
        answer = {"type": "mcp_approval_response", "approval_request_id": request["id"]}
        reply = api.responses.with_raw_response.create(
            model="ops",
            previous_response_id=first.id,
            input=[{**answer, "approve": approve}],
            tools=[TRAYMIND_MCP],
        )
        validate("Response", reply.http_response.json())
        second = reply.parse()
        (ran, _) = second.output
        assert (ran.type, ran.name) == ("mcp_call", "run_shell")
        assert ran.output == ("(no output)\n[exit code 0]" if approve else DENIED)
        recent = owner(handle, owner_key).get("/api/approvals").json()["recent"]
    assert second.output_text == "over"
    assert (work / "marker.txt").exists() is approve
    told = tool_result_of(upstream.chat_requests[1])
    assert told == ("(no output)\n[exit code 0]" if approve else DENIED)
    assert [(r["allowed"], r["by"]) for r in recent] == [(approve, "the client's user (in-band)")]
    assert len(upstream.chat_requests) == 2  # the answer resumed the turn; no new model call


def tool_result_of(request: Any) -> str:
    return [m for m in request.body["messages"] if m["role"] == "tool"][-1]["content"]


def test_in_band_is_off_unless_the_config_allows_it(
    tmp_path: Path, upstream: Upstream, owner_key: str
) -> None:
    work, server = in_band_server(tmp_path, upstream)
    script_touch(upstream, work / "marker.txt")
    with server as handle:
        api = client(handle, CLIENT_KEY)
        run = Background(
            lambda: api.responses.create(model="ops", input="touch it", tools=[TRAYMIND_MCP])
        )
        (pending,) = wait_pending(owner(handle, owner_key))  # the tray is asked instead
        handle.approvals.decide(pending["id"], False, by="tray")
        assert run.join().output_text == "over"
        forged = http(handle).post(
            "/v1/responses",
            headers={"Authorization": f"Bearer {CLIENT_KEY}"},
            json={
                "model": "ops",
                "previous_response_id": run.result.id,
                "input": [
                    {
                        "type": "mcp_approval_response",
                        "approval_request_id": "mcpr_call_1",
                        "approve": True,
                    }
                ],
            },
        )
    assert forged.status_code == 400
    assert "approval_in_band is off" in forged.json()["error"]["message"]
    assert not (work / "marker.txt").exists()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"approval_request_id": "call_1", "approve": True}, "must be the id of an"),
        ({"approval_request_id": "mcpr_call_1", "approve": "yes"}, "must be true or false"),
        ({"approval_request_id": "mcpr_nothing", "approve": True}, "No answer is waiting"),
    ],
)
def test_a_bad_in_band_answer_is_400_and_runs_nothing(
    tmp_path: Path, upstream: Upstream, item: dict[str, Any], message: str
) -> None:
    work, server = in_band_server(tmp_path, upstream, approval_in_band=True)
    script_touch(upstream, work / "marker.txt")
    with server as handle:
        api = client(handle, CLIENT_KEY)
        first = api.responses.create(model="ops", input="touch it", tools=[TRAYMIND_MCP])
        answer = http(handle).post(
            "/v1/responses",
            headers={"Authorization": f"Bearer {CLIENT_KEY}"},
            json={
                "model": "ops",
                "previous_response_id": first.id,
                "input": [{"type": "mcp_approval_response", **item}],
            },
        )
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]["message"]
    assert not (work / "marker.txt").exists()


def test_an_in_band_answer_to_one_of_two_requests_denies_the_other(
    tmp_path: Path, upstream: Upstream
) -> None:
    work, server = in_band_server(tmp_path, upstream, approval_in_band=True)
    upstream.script(
        Reply.tool_calls(
            [
                ("run_shell", {"command": "echo one >> one.txt"}),
                ("run_shell", {"command": "echo two >> two.txt"}),
            ]
        ),
        Reply.text("over"),
    )
    with server as handle:
        api = client(handle, CLIENT_KEY)
        first = api.responses.create(model="ops", input="both", tools=[TRAYMIND_MCP])
        asked = [i for i in first.output if i.type == "mcp_approval_request"]
        assert len(asked) == 2
        answer = {"type": "mcp_approval_response", "approval_request_id": asked[0].id}
        second = api.responses.create(
            model="ops",
            previous_response_id=first.id,
            input=[{**answer, "approve": True}],
            tools=[TRAYMIND_MCP],
        )
    assert second.output_text == "over"
    assert (work / "one.txt").read_text() == "one\n"
    assert not (work / "two.txt").exists()  # unanswered: denied, and the model is told
    results = [
        m["content"] for m in upstream.chat_requests[1].body["messages"] if m["role"] == "tool"
    ]
    assert results == ["(no output)\n[exit code 0]", DENIED]


def test_always_allow_grants_one_tool_and_never_a_tool_named_star() -> None:
    from server.approvals.policy import ApprovalRule, always_allowed

    with pytest.raises(ValueError):
        always_allowed(None, ApprovalRule("mcp", "evil"), "*")
    assert always_allowed("ask", ApprovalRule("files"), "write_file") == {
        "*": "ask",
        "write_file": "auto",
    }


def test_a_huge_file_write_gets_a_summary_not_a_diff(tmp_path: Path) -> None:
    from server.tools import ToolRef, build_tools

    (tmp_path / "big.log").write_text("".join(f"line {i}\n" for i in range(50_000)))
    tools = build_tools([ToolRef(name="files", options={"roots": [str(tmp_path)], "write": True})])
    files = next(t for t in tools if t.name == "write_file").function.__self__
    started = time.monotonic()
    preview = files.approval_preview("write_file", {"path": "big.log", "content": "x\n" * 100})
    assert time.monotonic() - started < 2
    assert preview == "(too large to show a diff: 50000 lines now, 100 lines after)"
    small = files.approval_preview("write_file", {"path": "new.txt", "content": "hi\n"})
    assert small is not None and small.startswith("--- /dev/null\n+++ new.txt")


def test_a_non_streaming_client_that_leaves_withdraws_its_request(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str
) -> None:
    handle, work = served
    script_touch(upstream, work / "marker.txt")
    api = owner(handle, owner_key)
    impatient = client(handle, CLIENT_KEY).with_options(timeout=1.0)
    with pytest.raises(openai.APITimeoutError):  # the chat app gives up and closes
        impatient.chat.completions.create(
            model="ops", messages=[{"role": "user", "content": "touch it"}]
        )
    deadline = time.monotonic() + 10
    while api.get("/api/approvals").json()["data"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.get("/api/approvals").json()["data"] == []
    recent = api.get("/api/approvals").json()["recent"]
    assert [(r["allowed"], r["by"]) for r in recent] == [(False, "cancelled (the client left)")]
    assert not (work / "marker.txt").exists()


def test_keys_create_owner_makes_a_key_the_list_marks(tmp_path: Path) -> None:
    data = tmp_path / "keys"
    cli = [sys.executable, "-m", "server.cli", "keys"]
    where = ["--data-dir", str(data), "--keystore", "file"]
    made = subprocess.run(
        [*cli, "create", "--label", "me", "--owner", *where], capture_output=True, text=True
    )
    assert made.returncode == 0 and "Created owner key 'me'" in made.stderr
    plain = subprocess.run(
        [*cli, "create", "--label", "app", *where], capture_output=True, text=True
    )
    assert plain.returncode == 0 and "Created key 'app'" in plain.stderr
    listed = subprocess.run([*cli, "list", *where], capture_output=True, text=True).stdout
    rows = {line.split()[0]: line for line in listed.splitlines()[1:]}
    assert rows["me"].rstrip().endswith("yes") and not rows["app"].rstrip().endswith("yes")
    store = KeyStore.open(data, "file")
    owner_match = store.match(made.stdout.strip())
    app_match = store.match(plain.stdout.strip())
    assert owner_match is not None and owner_match.owner is True
    assert app_match is not None and app_match.owner is False


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        {"Content-Type": "text/plain", "Origin": "http://localhost.evil.example"},
    ],
)
def test_a_web_page_cannot_decide_even_with_the_owners_key(
    served: tuple[ServerHandle, Path], upstream: Upstream, owner_key: str, headers: dict[str, str]
) -> None:
    handle, work = served
    script_touch(upstream, work / "marker.txt")
    run = ask(handle)
    api = owner(handle, owner_key)
    (pending,) = wait_pending(api)
    refused = api.post(
        f"/api/approvals/{pending['id']}", content=b'{"allow": true}', headers=headers
    )
    assert refused.status_code == 403, refused.text
    assert set(refused.json()["error"]) == {"message", "type", "param", "code"}
    assert wait_pending(api)[0]["id"] == pending["id"]  # still waiting, undecided
    handle.approvals.decide(pending["id"], False, by="tray")
    run.join()
    assert not (work / "marker.txt").exists()
