"""The OpenAI Responses API (``/v1/responses``), for Codex CLI and the SDKs' ``responses``.

``request`` turns a Responses body into the chat completions turn it means;
``encoding`` writes the response object and its numbered SSE events; ``service``
runs the turn on the chat service and stores responses for ``previous_response_id``;
``routes`` is the thin router.
"""
