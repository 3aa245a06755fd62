"""Real relay processes for the Python tests: started from the built CLI (port 0, read back
from the ``--json`` ready line), every one killed in teardown.

The CLI is located in ONE place, here: ``HERALD_CLI`` overrides the default path.
"""
from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
#: The herald CLI (the relay): the launcher npm installs; HERALD_CLI overrides.
CLI = os.environ.get("HERALD_CLI") or str(ROOT / "packages" / "cli" / "bin" / "herald.js")
NODE = os.environ.get("HERALD_NODE") or shutil.which("node") or "node"
READY_TIMEOUT = 30.0


@dataclass
class Proc:
    """A child process whose stdout lines are queued and whose stderr is kept (both drained)."""

    popen: subprocess.Popen[bytes]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)

    def start_readers(self) -> None:
        def out() -> None:
            assert self.popen.stdout is not None
            for raw in self.popen.stdout:
                self.lines.put(raw.decode("utf-8", "replace"))
            self.lines.put(None)

        def err() -> None:
            assert self.popen.stderr is not None
            for raw in self.popen.stderr:
                self.stderr.append(raw.decode("utf-8", "replace"))

        threading.Thread(target=out, daemon=True).start()
        threading.Thread(target=err, daemon=True).start()

    def wait_line(self, pred: str, timeout: float = READY_TIMEOUT) -> str:
        """The first stdout line containing ``pred`` (raises with the stderr on exit or timeout)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(f"timed out waiting for {pred!r}; stderr: {''.join(self.stderr)}") from None
            if line is None:
                raise RuntimeError(f"process exited before printing {pred!r}; stderr: {''.join(self.stderr)}")
            if pred in line:
                return line

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


@dataclass
class Relay:
    proc: Proc
    port: int
    peer_id: str
    addrs: list[str]


_live: list[Proc] = []


def spawn(args: list[str], *, script: str = CLI, stdin: bytes | None = None, cwd: Path = ROOT) -> Proc:
    popen = subprocess.Popen(
        [NODE, script, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
    )
    p = Proc(popen)
    _live.append(p)
    p.start_readers()
    if stdin is not None and popen.stdin is not None:
        popen.stdin.write(stdin)
        popen.stdin.close()
    return p


def start_relay(args: list[str] | None = None, *, bootstrap: Relay | None = None) -> Relay:
    """``herald relay --dev --port 0 --json [args]``, bootstrapped to ``bootstrap`` if given."""
    extra = list(args or [])
    if bootstrap is not None:
        extra += ["--bootstrap", bootstrap.addrs[0]]
    p = spawn(["relay", "--dev", "--port", "0", "--json", *extra])
    ready = json.loads(p.wait_line('"event":"ready"'))
    return Relay(p, int(ready["port"]), str(ready["peerId"]), list(ready["addrs"]))


def run_cli(args: list[str], *, stdin: bytes | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess[bytes]:
    """Runs a CLI command to completion (e.g. ``herald request``)."""
    return subprocess.run([NODE, CLI, *args], cwd=ROOT, input=stdin, capture_output=True, timeout=timeout, check=False)


def kill_all() -> None:
    while _live:
        _live.pop().kill()


async def wait_route(port: int, *, cluster: str | None = None, topic: str | None = None, timeout: float = 20.0) -> None:
    """Polls the relay's ``$herald.status`` until a linked peer lists the cluster or topic
    (directory state is only visible by polling)."""
    from herald import connect  # noqa: PLC0415 - the harness itself needs no client

    key, name = ("clusters", cluster) if cluster is not None else ("topics", topic)
    async with connect(port=port) as c:
        for _ in range(int(timeout / 0.05)):
            status = json.loads(await c.request("$herald.status", b"", timeout=5))
            if any(p.get("connected") and name in p.get(key, ()) for p in status.get("peers", [])):
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"no linked relay lists {key} {name!r} within {timeout:g} s")
