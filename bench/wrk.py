"""Run wrk against one loopback URL and read its summary: req/s, mean, p50, p99, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

CONNECTIONS = 8
THREADS = 2
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_DURATION = r"([0-9.]+)(us|ms|s|m)"


@dataclass(frozen=True)
class WrkResult:
    url: str
    seconds: int
    requests: int
    rps: float
    mean_ms: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit] * 1000


def parse(url: str, seconds: int, text: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, text)
        if match is None:
            raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{text}")
        return match

    mean = find(rf"Latency\s+{_DURATION}")
    p50 = find(rf"50%\s+{_DURATION}")
    p99 = find(rf"99%\s+{_DURATION}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        url=url,
        seconds=seconds,
        requests=int(find(r"(\d+) requests in").group(1)),
        rps=float(find(r"Requests/sec:\s+([0-9.]+)").group(1)),
        mean_ms=_ms(*mean.groups()),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run(url: str, seconds: int) -> WrkResult:
    """`wrk -t2 -c8 -d<seconds>s --latency url`; the URL must be on 127.0.0.1."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the bench only loads loopback servers, not {url}")
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (make bench installs it with apt-get)")
    argv = [binary, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(url, seconds, done.stdout)
