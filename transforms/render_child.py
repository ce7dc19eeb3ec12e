"""A render process: reads render jobs on stdin and answers on stdout (`python -m transforms.render_child`).

It knows nothing of Django, the database or the cache: a job is the original's bytes, a canonical variant
query, an output format and a deadline; the answer is the encoded bytes and what the render cost (its
peak RSS, reset before each job). The web worker that started it can kill it at any moment (past the
deadline, over the memory limit) and lose nothing but this process.

A job also lists the worker's operations (their import paths, in order), so an operation registered in the
worker (a plugin, a test's) is the render process's too.

Frames, both ways: 4 bytes of big-endian length, a JSON header, then the header's `bytes` of payload.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import math
import os
import re
import signal
import struct
import sys
import traceback
from typing import IO, Any
from urllib.parse import parse_qsl

from PIL import Image

from transforms import jpeg
from transforms.operations import REGISTRY
from transforms.params import Limits
from transforms.pipeline import RenderError, RenderTimeout, render
from transforms.spec import parse

_LENGTH = struct.Struct(">I")
_PAGE = os.sysconf("SC_PAGE_SIZE")
# The parent validated the spec against its own limits; here the canonical query only has to parse back.
_ANY_SIDE = 2**31 - 1
# glibc's mallopt parameters (malloc.h), and the largest mmap threshold it takes (32 MiB on 64-bit).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_CHUNK_MAX = 32 * 2**20
_NEVER = 2**31 - 1
# Clock ticks of all CPUs (10 ms each) a resize's look at the idle CPUs needs behind it: 20 ms on 2 CPUs.
MIN_TICKS = 4


def read_frame(stream: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    """One frame from `stream`, or None at end of stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    header = json.loads(stream.read(_LENGTH.unpack(head)[0]))
    size = int(header.get("bytes", 0))
    payload = stream.read(size) if size else b""
    if len(payload) < size:
        return None
    return header, payload


def encode_frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    text = json.dumps({**header, "bytes": len(payload)}).encode()
    return _LENGTH.pack(len(text)) + text + payload


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _peak_rss() -> int:
    with open("/proc/self/status") as status:
        match = re.search(r"VmHWM:\s+(\d+) kB", status.read())
    return int(match.group(1)) * 1024 if match else 0


def _reset_peak() -> None:
    """Start this job's high-water mark from the current RSS (Linux: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass  # the peak then covers the process's life, which only overstates a job's cost


def run_job(header: dict[str, Any], source: bytes) -> tuple[dict[str, Any], bytes]:
    """Render one job; every failure is an answer, never an exception."""
    began = cpu_times()
    try:
        if "path" in header:  # a file of the content-addressed store, named by the web worker
            with open(header["path"], "rb") as original:
                source = original.read()
        REGISTRY.load(tuple(header["operations"]))  # the web worker's operations, in its order
        query = parse_qsl(header["query"], keep_blank_values=True)
        spec = parse(query, limits=Limits(max_side=_ANY_SIDE, resolved=True))  # the worker resolved it
        result = render(
            source,
            spec,
            header["format"],
            deadline=header["deadline"],
            max_frames=header["max_frames"],
            threads=functools.partial(threads_to_use, int(header["threads"]), began),  # asked at each resize
        )
    except RenderTimeout as exc:
        return {"error": "timeout", "message": str(exc)}, b""
    except RenderError as exc:
        return {"error": "decode", "message": str(exc)}, b""
    except FileNotFoundError as exc:
        return {"error": "missing", "message": str(exc)}, b""
    except MemoryError:
        return {"error": "memory", "message": "the render ran out of memory"}, b""
    except Exception as exc:  # noqa: BLE001 - a bug: reported to the parent, which logs it, and this process lives on
        traceback.print_exc(file=sys.stderr)
        return {"error": "internal", "message": f"{type(exc).__name__}: {exc}"}, b""
    answer = {
        "content_type": result.content_type,
        "format": result.format,
        "width": result.width,
        "height": result.height,
        "animation": result.animation,
        "timings": result.timings,
    }
    return answer, result.data


def cpu_times() -> tuple[int, int] | None:
    """The machine's CPU time so far, idle and in all, in clock ticks (/proc/stat's first line); None where unknown."""
    try:
        with open("/proc/stat", "rb") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:9]]  # user nice system idle iowait irq ...
    except (OSError, ValueError):
        return None
    return (ticks[3] + ticks[4], sum(ticks)) if len(ticks) == 8 else None


def threads_to_use(asked: int, since: tuple[int, int] | None) -> int:
    """Of the `asked` threads, one and as many more as the machine's CPUs were idle, on average, since `since`
    (cpu_times() when the render began: its decode): a render takes idle CPUs to finish sooner, never CPUs that
    other renders are using, which costs them all (two threads each for 8 renders at once on 2 CPUs made 9 % fewer
    renders a second). Less than MIN_TICKS since then says too little: one thread."""
    now = cpu_times()
    if asked <= 1 or since is None or now is None or now[1] - since[1] < MIN_TICKS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        return 1
    idle_cpus = cpus * (now[0] - since[0]) / (now[1] - since[1])
    # A CPU idle 30 % of the time counts: the ticks are coarse (a CPU busy with the decode alone read 0.4 idle in one
    # look in three), and a CPU busy with another render reads near 0.
    return max(1, min(asked, cpus, 1 + math.floor(idle_cpus + 0.7)))


def _keep_heap() -> None:
    """Let a render's large buffers live in the heap, and let only _release_memory give the heap back.

    glibc serves every allocation over its mmap threshold (128 KiB, rising to at most 32 MiB as such blocks are
    freed) with a mapping of its own, and unmaps it at free(): Pillow's 16 MiB image blocks, a decoder's output,
    a resize's passes. Each render then faulted its memory in again, page by page: 20,000 faults, about 30 ms of
    a 290 ms render of a 12 MP JPEG to 1900 px, and 6,300 faults a render on average over W2's widths. With the
    threshold at its largest and no trimming on free, they come from the heap and stay there for the next render
    (a render process's CPU over W2's 19 widths: 140 ms a render before, 123 keeping 64 MiB, 121 keeping 160)."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _HEAP_CHUNK_MAX)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _NEVER)


def _release_memory(idle: int, keep: int) -> None:
    """Give the heap's free pages back to the system when the process holds more than `keep` bytes over its idle
    size; below that they stay, for the next render to reuse without faulting them in."""
    if _LIBC is not None and rss_bytes() - idle > keep:
        _LIBC.malloc_trim(0)


_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform.startswith("linux") else None


def main() -> None:
    # A Ctrl-C in a terminal reaches the whole process group, this process too: the web worker ends it (it closes
    # the input) or kills it, so the interrupt is not this process's to act on (it printed a traceback a process).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print (ours or a library's) goes to stderr, never into the answers
    _keep_heap()
    Image.init()  # every plugin and decoder loaded before the first job, so the idle size below is the real one
    jpeg.turbo()
    idle = rss_bytes()
    answers.write(encode_frame({"ready": True, "rss": idle}))
    answers.flush()
    while (job := read_frame(requests)) is not None:
        _reset_peak()
        start = rss_bytes()  # what the process held from earlier jobs (at most `keep` over its idle size)
        keep = int(job[0]["keep"])  # RENDER_PROCESS_KEEP for the pool's keeper, else 0
        answer, data = run_job(*job)
        del job
        answer["peak_rss"], answer["start_rss"] = _peak_rss(), start
        # Before the answer, so that the worker, which looks at this process's size when it next takes it (maybe at
        # once), sees what it keeps, not what the render left.
        _release_memory(idle, keep)
        try:
            answers.write(encode_frame(answer, data))
            answers.flush()
        except BrokenPipeError:
            return  # the web worker is gone
        del data


if __name__ == "__main__":
    main()
