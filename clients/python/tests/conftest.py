"""Runs ``async def`` tests in a fresh event loop each (standard library only: no
pytest-asyncio), and kills every process the harness started at the end of the session."""
from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package under test, uninstalled

from tests import harness  # noqa: E402


@pytest.hookimpl(tryfirst=True)  # type: ignore[misc]
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True


@pytest.fixture(scope="session", autouse=True)
def _kill_processes() -> Iterator[None]:
    yield
    harness.kill_all()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Prints the conformance count for this client (the TS runner prints its own)."""
    passed = [r for r in terminalreporter.stats.get("passed", []) if "test_scenario[" in r.nodeid]
    failed = [r for r in terminalreporter.stats.get("failed", []) if "test_scenario[" in r.nodeid]
    if passed or failed:
        terminalreporter.write_line(f"conformance: python: {len(passed)} scenarios passed, {len(failed)} failed")
