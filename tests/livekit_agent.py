"""A LiveKit voice agent whose tools come from skillgate (shown in docs/voice.md; the tests use it).

Run a skillgate first (`make run`, or `skillgate serve skills --http`), then:
    python tests/livekit_agent.py dev
"""

from __future__ import annotations

import os

from livekit.agents import Agent, AgentSession, JobContext, WorkerOptions, cli
from livekit.agents.llm import mcp

# What the LLM needs to know about skillgate's three tools; short, because it is spoken context.
SKILLGATE_INSTRUCTIONS = """\
You are a voice assistant. Your abilities come as skills, through three tools:
- list_skills(query): find the skill for what the user asks, in their own words. The server's
  instructions already list many skills by name; search when none fits.
- load_skill(name): read a skill's instructions and its tools' input schemas before using it.
  For a long skill, load_skill(name, section=HEADING) or max_tokens=N loads only what you need.
- call_skill(name, tool, arguments): run one of the skill's tools with arguments that match its
  schema. If a call fails, the error says how to fix it: fix it and call again.
Keep spoken answers short. Never read tool output or JSON aloud verbatim.
"""


def skillgate_http(url: str = "http://127.0.0.1:8000/mcp", token: str | None = None) -> mcp.MCPServerHTTP:
    """skillgate over streamable HTTP (`skillgate serve --http`)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return mcp.MCPServerHTTP(url=url, headers=headers, client_session_timeout_seconds=30)


def skillgate_stdio(catalog: str = "skills", command: str = "skillgate") -> mcp.MCPServerStdio:
    """skillgate as a child process over stdio (`skillgate serve CATALOG`)."""
    env = {"PATH": os.environ.get("PATH", "")}
    return mcp.MCPServerStdio(
        command=command, args=["serve", catalog], env=env, client_session_timeout_seconds=30
    )


class SkillAgent(Agent):
    def __init__(self, skillgate: mcp.MCPServer) -> None:
        super().__init__(instructions=SKILLGATE_INSTRUCTIONS, mcp_servers=[skillgate])


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = AgentSession(stt="deepgram/nova-3", llm="openai/gpt-4.1-mini", tts="cartesia/sonic-2")
    token = os.environ.get("SKILLGATE_TOKEN")
    await session.start(agent=SkillAgent(skillgate_http(token=token)), room=ctx.room)


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint_fnc=entrypoint))
