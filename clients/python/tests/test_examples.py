"""The example programs, run as a user would: a relay, three member processes, the client."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests import harness

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "databases"
PACKAGE = str(Path(__file__).resolve().parents[1])


def test_databases_300_requests_balanced_over_three_members() -> None:
    relay = harness.start_relay()
    env = {"PYTHONPATH": PACKAGE}
    members = [
        subprocess.Popen([sys.executable, str(EXAMPLES / "member.py"), f"db-{i}", "--port", str(relay.port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        for i in (1, 2, 3)
    ]
    try:
        for m in members:
            assert m.stdout is not None and m.stdout.readline().startswith("ready db-")
        r = subprocess.run([sys.executable, str(EXAMPLES / "client.py"), "--port", str(relay.port)],
                           capture_output=True, text=True, env=env, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        answered = json.loads(r.stdout.strip().splitlines()[-1])["answered"]
        assert sorted(answered) == ["db-1", "db-2", "db-3"]
        assert sum(answered.values()) == 300 and min(answered.values()) > 0
        for m in members:
            m.terminate()  # SIGTERM: each leaves the cluster and exits 0
            assert m.wait(timeout=15) == 0
    finally:
        for m in members:
            m.kill()
        relay.proc.kill()


def test_client_without_members_says_so() -> None:
    relay = harness.start_relay()
    try:
        r = subprocess.run([sys.executable, str(EXAMPLES / "client.py"), "--port", str(relay.port), "--requests", "3"],
                           capture_output=True, text=True, env={"PYTHONPATH": PACKAGE}, timeout=60, check=False)
        assert r.returncode == 1 and "no member of 'databases'" in r.stderr
    finally:
        relay.proc.kill()
