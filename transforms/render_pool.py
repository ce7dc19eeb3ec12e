"""Renders in separate processes, so that a render's time and memory can really be stopped.

A check between stages cannot stop an encoder that is already running (AVIF of a big canvas took 6 s in
one call), and memory a render took stays with the web worker. So each web worker keeps a few render
processes (transforms/render_child.py, started with `python -m`, no Django in them) and hands them jobs
over a pipe: past the deadline, or over RENDER_MEMORY_LIMIT, the process is killed and replaced, and the
worker answers 503 or 422. A process that grew (fragmentation) or served many jobs is retired.
A job names the original's file (the process reads it) or carries its bytes; a new process costs 0.1 s.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .operations import REGISTRY
from .pipeline import Rendered, RenderError, RenderTimeout
from .render_child import encode_frame, rss_bytes
from .spec import VariantSpec

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.05  # how often the memory of a running render is looked at
GRACE_SECONDS = 0.1  # past the deadline, the process may still answer its own timeout before it is killed
_LENGTH = 4
# Two malloc arenas: the encoders' threads would otherwise each grow one of their own, kept for the process's life.
CHILD_MALLOC = {"MALLOC_ARENA_MAX": "2"}


class RenderOverMemory(RenderError):
    """The render process grew past RENDER_MEMORY_LIMIT and was killed."""


class RenderCrashed(Exception):
    """The render process died or answered nonsense; it has been replaced."""


@dataclass(frozen=True)
class PoolLimits:
    memory_limit: int  # bytes of RSS a render process may reach
    max_jobs: int  # renders before a process is retired
    max_growth: int  # RSS beyond its idle size that a process may keep between jobs (RENDER_PROCESS_KEEP)
    threads: int = 1  # threads a render's resize may use at once (RENDER_THREADS)


class RenderProcess:
    """One `python -m transforms.render_child` and its pipes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(  # our own module, with this interpreter
            [sys.executable, "-m", "transforms.render_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            bufsize=0,
            close_fds=True,
            env={**os.environ, **CHILD_MALLOC},
        )
        self.jobs = 0
        self.idle_rss = 0
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Let the process end by itself (end of its input); kill it if it does not, soon."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def ready(self, deadline: float) -> None:
        """Wait for the greeting the process writes once its imports are done."""
        header, _ = self._read_frame(deadline, memory_limit=None)
        self.idle_rss = int(header.get("rss", 0))

    def run(
        self,
        source: bytes | Path,
        spec: VariantSpec,
        out_format: str,
        *,
        deadline: float,
        max_frames: int,
        memory_limit: int,
        keep: int,
        threads: int,
    ) -> Rendered:
        job: dict[str, Any] = {
            "query": spec.canonical_query,
            "format": out_format,
            "deadline": deadline,
            "max_frames": max_frames,
            "threads": threads,  # a resize's bands at once (RENDER_THREADS)
            "operations": REGISTRY.paths(),
            "keep": keep,  # free heap the process may keep for its next render
        }
        if isinstance(source, Path):  # a file of the store: the process reads it, and no pipe carries it
            job["path"], source = str(source), b""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(encode_frame(job, source))
        except OSError as exc:
            raise RenderCrashed(f"the render process {self.pid} is gone: {exc}") from exc
        self.jobs += 1
        header, data = self._read_frame(deadline + GRACE_SECONDS, memory_limit=memory_limit)
        error = header.get("error")
        if error == "timeout":
            raise RenderTimeout(header["message"])
        if error == "memory":
            raise RenderOverMemory(header["message"])
        if error == "decode":
            raise RenderError(header["message"])
        if error == "missing":
            raise FileNotFoundError(header["message"])
        if error is not None:
            raise RenderCrashed(f"the render failed: {header.get('message')}")
        rendered = Rendered(
            data,
            header["content_type"],
            header["format"],
            header["width"],
            header["height"],
            header["animation"],
            header["timings"],
        )
        # What this render added at its peak, over what the process held when it began: a process keeps at most
        # max_growth between renders, so its size stays under idle + max_growth + the largest render's peak.
        start = max(self.idle_rss, int(header.get("start_rss", 0)))
        return replace(rendered, peak_bytes=max(0, int(header.get("peak_rss", 0)) - start))

    def _read_frame(self, until: float, memory_limit: int | None) -> tuple[dict[str, Any], bytes]:
        """Read one answer; kill the process past `until` or over `memory_limit` (checked every POLL_SECONDS)."""
        stdout = self.process.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            now = time.monotonic()
            if now >= until:
                self.kill()
                raise RenderTimeout("the render ran past its time budget and was stopped")
            readable, _, _ = select.select([fd], [], [], min(POLL_SECONDS, until - now))
            if readable:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    code = self.process.wait()
                    raise RenderCrashed(f"the render process {self.pid} ended (exit status {code})")
                self._buffer += chunk
            elif memory_limit is not None and rss_bytes(self.pid) > memory_limit:
                self.kill()
                raise RenderOverMemory(f"the render needed more than {memory_limit // 2**20} MiB and was stopped")

    def _parse(self) -> tuple[dict[str, Any], bytes] | None:
        buffer = self._buffer
        if len(buffer) < _LENGTH:
            return None
        size = int.from_bytes(buffer[:_LENGTH], "big")
        if len(buffer) < _LENGTH + size:
            return None
        header = json.loads(buffer[_LENGTH : _LENGTH + size])
        end = _LENGTH + size + int(header.get("bytes", 0))
        if len(buffer) < end:
            return None
        self._buffer = buffer[end:]
        return header, buffer[_LENGTH + size : end]


class RenderPool:
    """This worker's render processes: started on demand, reused, replaced when killed or retired."""

    START_SECONDS = 30.0  # a new process must have imported Pillow by then

    def __init__(self) -> None:
        self._idle: list[RenderProcess] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._keeper: RenderProcess | None = None  # the one process that keeps its heap between renders

    def _take(self, limits: PoolLimits | None) -> RenderProcess:
        while True:
            with self._lock:
                if self._pid != os.getpid():  # forked: the processes belong to the parent
                    self._idle, self._pid, self._keeper = [], os.getpid(), None
                if not self._idle:
                    break
                # The keeper first, whose heap is ready for a render; else the last given back.
                process = self._idle.pop(self._idle.index(self._keeper) if self._keeper in self._idle else -1)
            # After its last render it kept at most max_growth of free heap (the keeper) or gave it back; what it
            # still holds beyond that is fragmentation, which only a new process sheds.
            if limits is None or rss_bytes(process.pid) - process.idle_rss <= limits.max_growth:
                return process
            process.close()
        process = RenderProcess()
        try:
            process.ready(time.monotonic() + self.START_SECONDS)
        except (RenderError, RenderCrashed):
            process.kill()
            raise
        return process

    def _keep_for(self, process: RenderProcess, limits: PoolLimits) -> int:
        """The free heap `process` may keep after this render: max_growth for one process of the pool, the keeper
        (taken first whenever it is idle), none for the others, which only render while it does. So a worker keeps
        one render's heap, however many render processes concurrency made it start."""
        with self._lock:
            if self._keeper is None or not self._keeper.alive():
                self._keeper = process
            return limits.max_growth if self._keeper is process else 0

    def _give_back(self, process: RenderProcess, limits: PoolLimits) -> None:
        if not process.alive() or process.jobs >= limits.max_jobs:
            process.close()
            return
        with self._lock:
            self._idle.append(process)

    def render(
        self,
        source: bytes | Path,
        spec: VariantSpec,
        out_format: str,
        *,
        deadline: float,
        max_frames: int,
        limits: PoolLimits,
    ) -> Rendered:
        """Render in one of this worker's processes; RenderTimeout, RenderOverMemory, RenderError, RenderCrashed."""
        with self._process(limits) as process:
            return process.run(
                source,
                spec,
                out_format,
                deadline=deadline,
                max_frames=max_frames,
                memory_limit=limits.memory_limit,
                keep=self._keep_for(process, limits),
                threads=limits.threads,
            )

    @contextmanager
    def _process(self, limits: PoolLimits) -> Iterator[RenderProcess]:
        process = self._take(limits)
        try:
            yield process
        except RenderCrashed:
            logger.error("render process %s failed; replacing it", process.pid)
            process.kill()
            raise
        except (RenderError, FileNotFoundError):  # its own answer leaves it good (undecodable, a lost file, timed
            # out in time); a kill does not
            if process.alive():
                self._give_back(process, limits)
            raise
        except BaseException:
            process.kill()
            raise
        self._give_back(process, limits)

    def warm(self) -> None:
        """Start one process ahead of the first render (granian_serve's loader, gunicorn's post_worker_init)."""
        process = self._take(None)
        with self._lock:
            self._idle.append(process)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for process in idle:
            process.close()

    def pids(self) -> list[int]:
        with self._lock:
            return [process.pid for process in self._idle]


render_pool = RenderPool()
atexit.register(render_pool.close)
