"""What an agent is told before the conversation: its identity, then its instructions."""

from __future__ import annotations

from server.config import AgentConfig


def agent_instructions(agent_id: str, agent: AgentConfig) -> list[str]:
    """The agent's identity (name and role) followed by its configured instructions."""
    name = agent.display_name or agent_id
    identity = f"You are {name}." + (f" Your role: {agent.role}." if agent.role else "")
    return [identity, *agent.instructions]
