"""The provider layer: what both chat paths share about talking to a model provider.

``endpoints`` (default URLs and timeouts), ``credentials`` (the key sent to the
provider), ``failures`` (provider errors as the sentences and statuses clients get),
``history`` (the one stored-conversation codec, pydantic-ai's message format) and
``models`` (pydantic-ai models with pooled SDK clients). The agent runtime and the
direct path (``server.agents.direct_chat``) both build on it, so a provider behaves
the same whichever path an agent takes.
"""
