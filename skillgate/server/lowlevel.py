"""The SDK's low-level `Server` as skillgate needs it: what it advertises and the middleware it
runs. Each piece works around one SDK behaviour, through public API only."""

from __future__ import annotations

from typing import Any

from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.models import InitializationOptions

from skillgate.observe import tracing
from skillgate.server.resources import EXTENSION


class LowLevelServer(Server[Any]):
    """The low-level server, advertising tools/list_changed to handshake-era clients.

    The streamable-HTTP manager calls `create_initialization_options()` without
    arguments, so the flag is set here rather than passed in.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extensions[EXTENSION] = {}
        if not tracing.active():  # no tracer: the SDK's span middleware would make no-op spans per request
            self.middleware = [m for m in self.middleware if not _is_span_middleware(m)]
        self.middleware.append(_declare_extensions_on_initialize)

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options
            or NotificationOptions(tools_changed=True, prompts_changed=True, resources_changed=True),
            # The handshake-era schema has no `extensions`: the skills extension is declared there too.
            experimental_capabilities if experimental_capabilities is not None else dict(self.extensions),
            extensions,
        )


def _is_span_middleware(middleware: Any) -> bool:
    """The SDK's OpenTelemetry middleware, known by its public class name (its module is private)."""
    return type(middleware).__name__ == "OpenTelemetryMiddleware"


async def _declare_extensions_on_initialize(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Handshake-era `initialize` results lose `capabilities.extensions` (not in the 2025-11-25 schema);
    clients such as MCP Inspector still look there for the skills extension, so it is put back."""
    result = await call_next(ctx)
    if ctx.method == "initialize" and isinstance(result, dict):
        capabilities = result.setdefault("capabilities", {})
        capabilities.setdefault("extensions", {EXTENSION: {}})
    return result
