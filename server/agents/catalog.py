"""The models ``/v1/models`` lists (``auto``, agents, ``team/<name>``) and what ids resolve to."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from server.config import Config
from server.errors import ModelNotFound, UnsupportedWorkerScope
from server.openai.wire import ModelCard

AUTO = "auto"
TEAM_PREFIX = "team/"


SHOWN_ID_CHARS = 100  # an unknown id is echoed in the error: bounded, whatever was sent


def unknown_model(model_id: str) -> ModelNotFound:
    shown = model_id if len(model_id) <= SHOWN_ID_CHARS else model_id[:SHOWN_ID_CHARS] + "…"
    return ModelNotFound(f"The model '{shown}' does not exist.", param="model")


@dataclass(frozen=True, slots=True)
class Target:
    """What a requested model id runs: an agent, a team, or the router."""

    kind: Literal["agent", "team", "auto"]
    id: str


class Catalog:
    """Listing and resolution of model ids for one config."""

    def __init__(self, config: Config, created: int) -> None:
        self._config = config
        self._created = created
        self._cards = self._build_cards()
        self._by_id = {card.id: card for card in self._cards}

    def listed_agents(self) -> list[str]:
        return [aid for aid, agent in self._config.agents.items() if agent.listable]

    def team_listable(self, name: str) -> bool:
        team = self._config.teams[name]
        return all(
            m in self._config.agents and self._config.agents[m].listable for m in team.agents
        )

    def _build_cards(self) -> list[ModelCard]:
        cards: list[ModelCard] = []
        agents = self.listed_agents()
        if agents:
            cards.append(
                ModelCard(
                    id=AUTO,
                    created=self._created,
                    name="Auto",
                    description="Picks the best agent for each message.",
                )
            )
        for agent_id in agents:
            agent = self._config.agents[agent_id]
            cards.append(
                ModelCard(
                    id=agent_id,
                    created=self._created,
                    name=agent.display_name or agent_id,
                    description=agent.role,
                )
            )
        for name, team in self._config.teams.items():
            if self.team_listable(name):
                cards.append(
                    ModelCard(
                        id=TEAM_PREFIX + name,
                        created=self._created,
                        name=team.display_name or name,
                        description=team.role,
                    )
                )
        return cards

    def cards(self) -> list[ModelCard]:
        return self._cards

    def card(self, model_id: str) -> ModelCard:
        card = self._by_id.get(model_id)
        if card is None:
            raise unknown_model(model_id)
        return card

    def aliased(self, model_id: str) -> str:
        """The served id ``server.model_aliases`` gives another name (exact match first)."""
        if model_id in self._by_id:
            return model_id
        aliases = self._config.server.model_aliases
        if model_id in aliases:
            return aliases[model_id]
        for pattern, target in aliases.items():
            if fnmatchcase(model_id, pattern):
                return target
        return model_id

    def resolve(self, model_id: str) -> Target:
        """The target for a completions request; hidden agents and teams are 400, unknown 404."""
        model_id = self.aliased(model_id)
        if model_id in self._by_id:
            if model_id == AUTO:
                return Target("auto", AUTO)
            if model_id.startswith(TEAM_PREFIX):
                return Target("team", model_id[len(TEAM_PREFIX) :])
            return Target("agent", model_id)
        if model_id in self._config.agents:
            raise UnsupportedWorkerScope(
                f"The agent '{model_id}' has a private worker scope and is not served over /v1.",
                param="model",
            )
        if model_id.startswith(TEAM_PREFIX) and model_id[len(TEAM_PREFIX) :] in self._config.teams:
            raise UnsupportedWorkerScope(
                f"The team '{model_id}' has a member with a private worker scope and is not "
                "served over /v1.",
                param="model",
            )
        raise unknown_model(model_id)
