"""The OpenAI-compatible ``/v1`` surface: wire models, SSE encoding, errors and routes."""
