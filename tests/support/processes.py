"""Pieces of the site in child processes (a host's server, a worker's loop), as production runs
them: a Python snippet reading its app config from the environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


class Child:
    """`code` run by this Python with `config` as JSON in the environment variable `variable`;
    its stderr goes to `log`. start() returns the first line it prints (its readiness);
    kill() is a SIGKILL, and start() brings it back."""

    def __init__(self, code: str, variable: str, config: dict, log: Path) -> None:
        self.code, self.variable, self.config, self.log = code, variable, config, log
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        env = {**os.environ, self.variable: json.dumps(self.config)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", self.code],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        return self.process.stdout.readline().strip()

    def output_tail(self) -> str:
        return self.log.read_text()[-2000:]

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.process and self.process.stdout:
            self.process.stdout.close()
