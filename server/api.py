"""The ASGI application: ``/v1`` for chat apps, ``/api`` for health and status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server.anthropic.routes import router as messages_router
from server.approvals.routes import router as approvals_router
from server.openai.errors import install_error_handlers
from server.openai.routes import router as v1_router
from server.request_log import RequestRecorder
from server.responses.routes import router as responses_router
from server.security.auth import Identity
from server.security.host_guard import HostGuard
from server.state import ServerState
from server.version import version

HEALTH_PROBE_WAIT = 1.5


async def publish_when_resolved(state: ServerState) -> None:
    """Once the default model is known, the status window shows it beside each agent."""
    generation = state.generation
    await generation.runtime.resolved_default()
    if state.generation is generation:
        state.publish_agents()


def authenticate(state: ServerState, request: Request) -> Identity:
    """Who sent ``request``; raises the OpenAI-shaped 401/429 when nobody we know."""
    peer = request.client.host if request.client else None
    headers = request.headers
    return state.authenticator.authenticate(headers.get("authorization"), peer, headers.get("host"))


def create_app(state: ServerState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.generation.runtime.start()
        state.publish_agents()
        publish = asyncio.get_running_loop().create_task(publish_when_resolved(state))
        yield
        publish.cancel()
        state.interrupt_all("the server is shutting down")
        await state.generation.runtime.stop(shutting_down=True)
        await state.mcp_pool.close_all()  # and those of replaced configs, still in their grace
        await state.locks.aclose()
        await state.direct.aclose()

    app = FastAPI(
        title="Traymind",
        version=version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the same auth as /v1
    )
    app.state.traymind = state
    install_error_handlers(app)

    def guard_settings() -> tuple[list[str], list[str]]:
        settings = state.generation.config.server
        return settings.trusted_hosts, settings.cors_origins

    app.add_middleware(HostGuard, settings=guard_settings)
    app.add_middleware(RequestRecorder, hub=lambda: state.status)  # outermost: sees refusals
    app.include_router(messages_router)  # before v1's catch-all for unknown paths
    app.include_router(responses_router)
    app.include_router(v1_router)
    app.include_router(approvals_router)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        authenticate(state, request)
        return JSONResponse(app.openapi())

    @app.get("/api/health")
    async def health(request: Request) -> JSONResponse:
        generation = state.generation
        try:
            default = await asyncio.wait_for(
                generation.runtime.resolved_default(), HEALTH_PROBE_WAIT
            )
            default_status = default.as_status()
        except TimeoutError:
            default_status = {"id": None, "base_url": None, "source": "none"}
        return JSONResponse(
            {
                "status": "ok",
                "version": version(),
                "agents": len(generation.catalog.listed_agents()),
                "auth": state.authenticator.mode(),
                "default_model": default_status,
            }
        )

    @app.get("/api/status")
    async def status(request: Request) -> JSONResponse:
        identity = authenticate(state, request)
        return JSONResponse(state.status.snapshot(identity.namespace))

    return app
