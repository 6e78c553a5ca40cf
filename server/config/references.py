"""Checks across sections: every name a config uses must be defined somewhere.

Each problem names the exact key that holds the bad reference, says what is
known instead, and suggests the closest name when there is one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from server.config.errors import ConfigProblem, did_you_mean

if TYPE_CHECKING:
    from server.config.schema import Config

# "default" may be absent from models: it is then resolved at runtime (environment
# variables or a local server such as Ollama).
RUNTIME_DEFAULT_MODEL = "default"
RESERVED_ID = "auto"  # clients ask for "auto" to let the router pick
TEAM_PREFIX = "team/"  # teams are served as "team/<id>"


def reference_problems(config: Config) -> list[ConfigProblem]:
    """Everything in ``config`` that names something undefined or collides."""
    problems: list[ConfigProblem] = []
    models = config.models

    def check_model(key_path: str, name: str) -> None:
        if name != RUNTIME_DEFAULT_MODEL and name not in models:
            problems.append(ConfigProblem(key_path, _unknown(name, "a key under models", models)))

    for agent_id, agent in config.agents.items():
        problems.extend(_id_problems("agents", agent_id, "agent"))
        check_model(f"agents.{agent_id}.model", agent.model)
        for index, base in enumerate(agent.knowledge_bases):
            if base not in config.knowledge_bases:
                problems.append(
                    ConfigProblem(
                        f"agents.{agent_id}.knowledge_bases[{index}]",
                        _unknown(base, "a key under knowledge_bases", config.knowledge_bases),
                    )
                )
    for team_id, team in config.teams.items():
        problems.extend(_id_problems("teams", team_id, "team"))
        if team_id in config.agents:
            problems.append(
                ConfigProblem(
                    f"teams.{team_id}",
                    f"an agent is also called '{team_id}'; team and agent ids must differ",
                )
            )
        for index, member in enumerate(team.agents):
            if member not in config.agents:
                problems.append(
                    ConfigProblem(
                        f"teams.{team_id}.agents[{index}]",
                        _unknown(member, "an agent id", config.agents),
                    )
                )
        check_model(f"teams.{team_id}.model", team.model)
    check_model("router.model", config.router.model)
    if config.embeddings is not None and config.embeddings.model not in models:
        problems.append(
            ConfigProblem(
                "embeddings.model", _unknown(config.embeddings.model, "a key under models", models)
            )
        )
    served = [RESERVED_ID, *config.agents, *(TEAM_PREFIX + t for t in config.teams)]
    for alias, target in config.server.model_aliases.items():
        if target not in served:
            problems.append(
                ConfigProblem(
                    f"server.model_aliases.{alias}", _unknown(target, "a served model", served)
                )
            )
    return problems


def _id_problems(section: str, entity_id: str, kind: str) -> list[ConfigProblem]:
    if not entity_id.strip():
        return [ConfigProblem(section, f"{kind} ids must not be empty")]
    if entity_id == RESERVED_ID:
        return [
            ConfigProblem(
                f"{section}.{entity_id}",
                f"'{RESERVED_ID}' is reserved (it lets the router choose); pick another {kind} id",
            )
        ]
    if entity_id.startswith(TEAM_PREFIX):
        return [
            ConfigProblem(
                f"{section}.{entity_id}",
                f"{kind} ids must not start with '{TEAM_PREFIX}' (Traymind adds it for teams)",
            )
        ]
    if "/" in entity_id or not entity_id.isprintable() or any(c.isspace() for c in entity_id):
        return [  # chat apps put the id in URLs (/v1/models/{id}) and in their own configs
            ConfigProblem(
                f"{section}.{entity_id}",
                f"{kind} ids must not contain spaces or '/': "
                f"try '{_slug(entity_id)}' (chat apps show the display name instead)",
            )
        ]
    return []


def _slug(entity_id: str) -> str:
    printable = "".join(c if c.isprintable() else " " for c in entity_id)
    return "-".join(printable.replace("/", " ").split())


def _unknown(name: str, what: str, known: Collection[str]) -> str:
    listed = f"known: {', '.join(known)}" if known else "none are defined"
    return f"'{name}' is not {what} ({listed}){did_you_mean(name, known)}"
