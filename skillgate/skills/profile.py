"""Profile: a named view of the catalog (skill globs in and out, tools denied).

Every meta-tool answers through a profile: a skill outside the view is unknown,
whatever path or name is tried, and a denied tool cannot be called.
"""

from __future__ import annotations

import fnmatch

from pydantic import BaseModel, ConfigDict, Field


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    include: list[str] = Field(default_factory=lambda: ["*"], description="Skill-name globs to serve.")
    exclude: list[str] = Field(default_factory=list, description="Skill-name globs to hide.")
    deny_tools: list[str] = Field(default_factory=list, description="Tool-name globs denied in every skill.")

    def admits(self, skill: str) -> bool:
        return any(fnmatch.fnmatchcase(skill, p) for p in self.include) and not any(
            fnmatch.fnmatchcase(skill, p) for p in self.exclude
        )

    def denies(self, tool: str) -> bool:
        return any(fnmatch.fnmatchcase(tool, p) for p in self.deny_tools)


EVERYTHING = Profile()
DEFAULT_PROFILE = "default"  # the whole catalog, unless the settings define a profile of that name
