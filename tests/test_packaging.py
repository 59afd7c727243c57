"""skillgate as users install it: a wheel built from the checkout, installed into a fresh
virtualenv outside the repository, serving the example catalog to the SDK client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import EXAMPLES, REPO, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.packaging]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv with only the wheel (and its dependencies) in it; yields its bin folder."""
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    (wheel,) = dist.glob("skillgate-*.whl")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=900,
    )
    yield venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)


def test_the_build_has_no_warnings_from_the_projects_own_packaging(dist: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist / "again"), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0
    output = built.stdout + built.stderr
    assert "SetuptoolsDeprecationWarning" not in output and "is absent from the `packages`" not in output


def test_the_wheel_and_sdist_hold_the_package_and_its_pages(dist: Path) -> None:
    (wheel,) = dist.glob("skillgate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "skillgate/cli/__init__.py" in names and "skillgate/authoring/templates/catalog.html" in names
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
    (sdist,) = dist.glob("skillgate-*.tar.gz")
    with tarfile.open(sdist) as archive:
        files = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"server.json", "README.md", "pyproject.toml", "skillgate/cli/__init__.py"} <= files


async def test_an_installed_wheel_serves_the_examples_from_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    version = subprocess.run(
        [str(installed / "skillgate"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("skillgate, version ")
    catalog = tmp_path / "skills"
    shutil.copytree(EXAMPLES, catalog)
    env = {
        "PATH": f"{installed}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path),
    }
    params = StdioServerParameters(
        command=str(installed / "skillgate"), args=["serve", str(catalog)], cwd=str(tmp_path), env=env
    )
    async with Client(params) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["list_skills", "load_skill", "call_skill"]
        found = await client.call_tool("list_skills", {"query": "what time is it in Tokyo"})
        assert text_of(found).startswith("- time-zones:")
        loaded = await client.call_tool("load_skill", {"name": "commit-messages"})
        assert not loaded.is_error and "commit" in text_of(loaded).lower()
    pages = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "from skillgate.authoring.preview import _PAGES; print(_PAGES.list_templates())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert "catalog.html" in pages.stdout
