"""Teams: coordinate (delegate_task) and collaborate (members in parallel, then a synthesis)."""

from __future__ import annotations

import json
import re

import openai
import pytest

from tests.harness import client, running_server
from tests.upstream import Reply, Upstream

KEY = "sk-teams"


def team_config(upstream: Upstream, mode: str) -> dict:
    return {
        "models": {
            "default": {"provider": "openai", "id": "member-model", "base_url": upstream.base_url},
            "lead": {"provider": "openai", "id": "leader-model", "base_url": upstream.base_url},
        },
        "agents": {
            "general": {"display_name": "GeneralAgent", "role": "Writes prose"},
            "code": {"display_name": "CodeAgent", "role": "Writes code", "tools": ["calculator"]},
        },
        "teams": {
            "super_team": {
                "display_name": "Super Team",
                "role": "Engineering team",
                "agents": ["general", "code"],
                "mode": mode,
                "model": "lead",
            },
        },
    }


def content(answer) -> str:
    return answer.choices[0].message.content


def test_coordinate_delegates_and_answers(tmp_path, upstream) -> None:
    upstream.script(
        Reply.tool_calls(
            [("delegate_task", {"member": "code", "task": "compute 6*7"})], usage=(30, 5)
        ),
        Reply.tool_calls([("calculator", {"expression": "6*7"})], usage=(20, 3)),
        Reply.text("It is 42", usage=(25, 2)),
        Reply.text("The team says: 42", usage=(50, 6)),
    )
    with running_server(
        tmp_path, team_config(upstream, "coordinate"), env={"OPENAI_COMPAT_API_KEYS": KEY}
    ) as handle:
        answer = client(handle, KEY).chat.completions.create(
            model="team/super_team", messages=[{"role": "user", "content": "What is 6*7?"}]
        )
    assert answer.model == "team/super_team"
    assert content(answer) == (
        '<tool id="1" state="start">delegate_task(member=code, task=compute 6*7)</tool>'
        '<tool id="2" state="start">calculator(expression=6*7)</tool>'
        '<tool id="2" state="done">calculator(expression=6*7)\n42</tool>'
        '<tool id="1" state="done">delegate_task(member=code, task=compute 6*7)\nIt is 42</tool>'
        "The team says: 42"
    )
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (125, 16)
    leader = upstream.chat_requests[0].body
    assert leader["model"] == "leader-model"
    params = leader["tools"][0]["function"]["parameters"]
    assert params["properties"]["member"]["enum"] == ["general", "code"]
    instructions = json.dumps(leader["messages"])
    assert "Engineering team" in instructions and "Writes code" in instructions
    assert upstream.chat_requests[1].body["model"] == "member-model"


def test_member_failure_is_told_to_the_leader(tmp_path, upstream) -> None:
    upstream.script(
        Reply.tool_calls([("delegate_task", {"member": "general", "task": "write"})]),
        Reply.error(500),
        Reply.text("general could not help; here is my own answer"),
    )
    with running_server(
        tmp_path, team_config(upstream, "coordinate"), env={"OPENAI_COMPAT_API_KEYS": KEY}
    ) as handle:
        answer = client(handle, KEY).chat.completions.create(
            model="team/super_team", messages=[{"role": "user", "content": "Write"}]
        )
    text = content(answer)
    assert (
        "\nMember &#x27;general&#x27; failed: Agent &#x27;general&#x27; could not get an answer"
        in text
    )
    assert text.endswith("here is my own answer")
    tool_result = upstream.chat_requests[2].body["messages"][-1]
    assert tool_result["role"] == "tool" and "failed" in tool_result["content"]


def test_collaborate_runs_members_concurrently_and_never_interleaves(tmp_path, upstream) -> None:
    upstream.script(
        Reply.deltas(["general ", "answer"], delay=0.3),
        Reply.deltas(["code ", "answer"], delay=0.3),
        Reply.deltas(["Synth", "esis"]),
    )
    with running_server(
        tmp_path, team_config(upstream, "collaborate"), env={"OPENAI_COMPAT_API_KEYS": KEY}
    ) as handle:
        stream = client(handle, KEY).chat.completions.create(
            model="team/super_team",
            stream=True,
            messages=[{"role": "user", "content": "Plan a feature"}],
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert {c.model for c in chunks} == {"team/super_team"}
    # each member's answer is one start/done pair, whole, never interleaved
    tags = re.findall(r'<tool id="(\d)" state="(start|done)">(\w+)\(', text)
    assert sorted(tags) == [
        ("1", "done", tags[0][2]),
        ("1", "start", tags[0][2]),
        ("2", "done", tags[2][2]),
        ("2", "start", tags[2][2]),
    ]
    assert tags[0][1] == "start" and tags[1][1] == "done"
    assert "general answer</tool>" in text and "code answer</tool>" in text
    assert text.endswith("Synthesis")
    first, second, leader = upstream.chat_requests
    # the members ran concurrently: each started before the other finished
    assert first.started_at < second.finished_at and second.started_at < first.finished_at
    assert leader.started_at >= max(first.finished_at, second.finished_at) - 0.01
    assert "general answer" in json.dumps(leader.body["messages"])


def test_team_history_persists_per_session(tmp_path, upstream) -> None:
    upstream.script(Reply.text("first team answer"), Reply.text("second team answer"))
    config = team_config(upstream, "coordinate")
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        sdk = client(handle, KEY, **{"X-Session-Id": "team-s"})
        for text in ("hello team", "and again"):
            sdk.chat.completions.create(
                model="team/super_team", messages=[{"role": "user", "content": text}]
            )
    second = json.dumps(upstream.chat_requests[1].body["messages"])
    assert "hello team" in second and "first team answer" in second


def test_hidden_member_hides_the_team(tmp_path, upstream) -> None:
    config = team_config(upstream, "coordinate")
    config["agents"]["code"]["worker_scope"] = "user"
    with running_server(tmp_path, config, env={"OPENAI_COMPAT_API_KEYS": KEY}) as handle:
        sdk = client(handle, KEY)
        assert "team/super_team" not in [m.id for m in sdk.models.list()]
        with pytest.raises(openai.BadRequestError) as info:
            sdk.chat.completions.create(
                model="team/super_team", messages=[{"role": "user", "content": "x"}]
            )
    assert info.value.body["code"] == "unsupported_worker_scope"


def test_leader_failure_is_an_error_like_an_agents(tmp_path, upstream) -> None:
    upstream.script(Reply.error(503))
    with (
        running_server(
            tmp_path, team_config(upstream, "coordinate"), env={"OPENAI_COMPAT_API_KEYS": KEY}
        ) as handle,
        pytest.raises(openai.APIStatusError) as info,
    ):
        client(handle, KEY).chat.completions.create(
            model="team/super_team", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 502
    assert "Team 'super_team' could not get an answer" in info.value.message
