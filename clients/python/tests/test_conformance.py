"""The client conformance suite (conformance/scenarios/*.json) run against the Python client.

Scenarios without ``relays`` share one relay per suite file; the others get their own.
``HERALD_CONFORMANCE_INCLUDE=<tag>`` adds the scenarios marked ``"requires": "<tag>"`` (none today).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import harness
from tests.conformance.data import Scenario, load
from tests.conformance.runner import Runner
from tests.conformance.sockets import FakeRelay

SCENARIOS = load()


class SharedRelays:
    def __init__(self) -> None:
        self.by_suite: dict[str, harness.Relay] = {}

    def get(self, suite: str) -> harness.Relay:
        if suite not in self.by_suite:
            self.by_suite[suite] = harness.start_relay()
        return self.by_suite[suite]


@pytest.fixture(scope="session")
def shared() -> Iterator[SharedRelays]:
    pool = SharedRelays()
    yield pool
    for r in pool.by_suite.values():
        r.proc.kill()


def _own_relays(spec: list[dict[str, Any]]) -> list[harness.Relay]:
    relays: list[harness.Relay] = []
    for r in spec:
        join = r.get("join")
        relays.append(harness.start_relay(r.get("args", []), bootstrap=None if join is None else relays[join]))
    return relays


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_scenario(scenario: Scenario, shared: SharedRelays) -> None:
    spec = scenario.spec
    own: list[harness.Relay] = []
    fake: FakeRelay | None = None
    try:
        if "fake_relay" in spec:
            fake = FakeRelay(spec["fake_relay"])
            await fake.start()
            ports = [fake.port]
        elif "relays" in spec:
            own = _own_relays(spec["relays"])
            ports = [r.port for r in own]
        else:
            ports = [shared.get(scenario.suite).port]
        await Runner(scenario, ports, fake).run()
    finally:
        if fake is not None:
            await fake.stop()
        for r in own:
            r.proc.kill()


def test_suite_is_complete() -> None:
    """Every scenario file loaded, names unique: the count printed below is the whole suite."""
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names)), "scenario names must be unique"
    assert {s.suite for s in SCENARIOS} >= {"handshake", "requests", "pubsub", "broadcast", "tunnels", "limits", "keys", "hostile-relay", "relay-fixes-13"}
