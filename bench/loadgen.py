"""HTTP load on loopback: Debian's `wrk` when installed, else a small asyncio generator.

Both keep `connections` keep-alive connections busy for `seconds`, cycling through a list of
paths, and report requests/s, p50/p99 latency and failures. The fallback shares the CPU with
the server under test and so reads lower, but it does so for the baseline too: compare ratios.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
LUA = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local hx = os.getenv("BENCH_HX") == "1"
if hx then wrk.headers["HX-Request"] = "true" end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # wrk: "1.00m" for 60 s


@dataclass
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    failures: int
    tool: str


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value).groups()
    return float(number) * _UNIT[unit]


def _wrk(port: int, paths: list[str], seconds: float, connections: int, hx: bool) -> Load:
    with tempfile.TemporaryDirectory() as tmp:
        script, path_file = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(LUA)
        path_file.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "BENCH_PATHS": str(path_file), "BENCH_HX": "1" if hx else "0"}
        threads = min(2, connections)
        duration = max(1, round(seconds))  # wrk takes whole seconds
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
        command += ["--timeout", "10s", "-s", str(script), f"http://{HOST}:{port}/"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
        out = done.stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> Load:
    """wrk's --latency report as a Load (non-2xx/3xx answers and socket errors are failures)."""
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    failures = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        failures += sum(int(n) for n in errors.groups())
    return Load(
        requests=int(done.group(1)),
        seconds=_ms(done.group(2) + done.group(3)) / 1e3,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        p99_ms=_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        failures=failures,
        tool="wrk",
    )


async def _connection(port, paths, start, deadline, latencies, failures, hx) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    extra = "HX-Request: true\r\n" if hx else ""
    i = start
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            began = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies.append(time.perf_counter() - began)
            if status >= 400:
                failures.append(status)
            if re.search(rb"(?i)\r\nconnection:\s*close", head):
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()


def _python(port: int, paths: list[str], seconds: float, connections: int, hx: bool) -> Load:
    latencies: list[float] = []
    failures: list[int] = []

    async def main() -> float:
        began = time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(
            *(
                _connection(port, paths, k * 7, deadline, latencies, failures, hx)
                for k in range(connections)
            )
        )
        return time.perf_counter() - began

    elapsed = asyncio.run(main())
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3

    return Load(
        len(latencies),
        elapsed,
        len(latencies) / elapsed,
        pct(0.50),
        pct(0.99),
        len(failures),
        "python",
    )


def run(
    port: int, paths: list[str], seconds: float, connections: int = 16, hx: bool = False
) -> Load:
    """Drive the paths for `seconds` at `connections` concurrent keep-alive connections."""
    if shutil.which("wrk") and os.environ.get("BENCH_LOADGEN", "wrk") == "wrk":
        return _wrk(port, paths, seconds, connections, hx)
    return _python(port, paths, seconds, connections, hx)
