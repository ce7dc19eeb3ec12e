"""Render processes: a render that runs past its deadline or its memory limit is really stopped, and replaced."""

import io
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from PIL import Image

from transforms.pipeline import RenderError, RenderTimeout, render
from transforms.render_child import cpu_times, rss_bytes, threads_to_use
from transforms.render_pool import PoolLimits, RenderCrashed, RenderOverMemory, RenderPool
from transforms.spec import VariantSpec

from . import images

LIMITS = PoolLimits(memory_limit=512 * 2**20, max_jobs=500, max_growth=64 * 2**20)


def noise(size: tuple[int, int]) -> Image.Image:
    """Incompressible pixels: encoders cannot take shortcuts through them."""
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


@pytest.fixture
def pool():
    pool = RenderPool()
    yield pool
    pool.close()


def later(seconds: float) -> float:
    return time.monotonic() + seconds


def test_the_answer_is_the_in_process_render(pool):
    source = images.encode(images.photo((640, 480)), "JPEG")
    spec = VariantSpec(w=300, rotate=90, fmt="webp", q=70)
    rendered = pool.render(source, spec, "webp", deadline=later(20), max_frames=200, limits=LIMITS)
    expected = render(source, spec, "webp")
    assert rendered.data == expected.data
    assert (rendered.width, rendered.height, rendered.content_type) == (300, 400, "image/webp")
    assert rendered.peak_bytes is not None and 0 < rendered.peak_bytes < 64 * 2**20


def test_a_render_on_two_threads_is_the_in_process_render_on_one(pool):
    """RENDER_THREADS reaches the render process, whose resize bands make the bytes of one thread's resize."""
    source = images.encode(images.photo((1600, 1200)), "JPEG", quality=90)
    spec = VariantSpec(w=900, fmt="jpeg")
    limits = replace(LIMITS, threads=2)
    rendered = pool.render(source, spec, "jpeg", deadline=later(20), max_frames=200, limits=limits)
    assert rendered.data == render(source, spec, "jpeg", threads=1).data


def test_a_render_takes_only_idle_cpus():
    """As many threads as CPUs were idle since the render began: one more on an idle machine, none when every CPU is
    busy, one when too little time has gone by to tell."""
    cpus = len(os.sched_getaffinity(0))

    def threads_after(seconds: float) -> int:
        began = cpu_times()
        time.sleep(seconds)
        return threads_to_use(8, began)

    assert threads_to_use(1, cpu_times()) == 1
    assert threads_to_use(8, cpu_times()) == 1, "no time since: nothing known"
    assert threads_to_use(8, None) == 1
    assert 1 <= threads_after(0.2) <= min(8, cpus)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpus)]
    try:
        time.sleep(0.2)
        assert threads_after(0.3) == 1
    finally:
        for process in busy:
            process.kill()
            process.wait()


def test_processes_are_reused(pool):
    source = images.encode(images.photo((64, 48)), "PNG")
    for width in (10, 20, 30):
        pool.render(source, VariantSpec(w=width), "png", deadline=later(20), max_frames=200, limits=LIMITS)
    assert len(pool.pids()) == 1


def test_a_render_past_its_deadline_is_killed_inside_the_encoder(pool):
    """AVIF of 3 MP of noise is one encoder call of several seconds: no check between stages can stop it."""
    source = images.encode(noise((2048, 1536)), "PNG")
    pool.warm()
    (pid,) = pool.pids()
    started = time.monotonic()
    with pytest.raises(RenderTimeout):
        pool.render(source, VariantSpec(), "avif", deadline=later(0.5), max_frames=200, limits=LIMITS)
    assert time.monotonic() - started < 1.0, "stopped at the deadline, not when the encoder finished"
    assert not os.path.exists(f"/proc/{pid}") or rss_bytes(pid) == 0, "the render process is gone"
    small = images.encode(images.photo((64, 48)), "PNG")
    assert pool.render(small, VariantSpec(w=10), "png", deadline=later(20), max_frames=200, limits=LIMITS).width == 10


def test_a_render_past_its_memory_limit_is_killed(pool):
    source = images.encode(noise((3000, 2000)), "PNG")  # decodes to 18 MB, then AVIF needs far more
    pool.warm()
    limits = PoolLimits(memory_limit=rss_bytes(pool.pids()[0]) + 40 * 2**20, max_jobs=500, max_growth=64 * 2**20)
    with pytest.raises(RenderOverMemory):
        pool.render(source, VariantSpec(), "avif", deadline=later(60), max_frames=200, limits=limits)
    assert pool.pids() == [], "the killed process is not reused"


def test_a_render_process_that_dies_is_replaced(pool):
    source = images.encode(noise((2048, 1536)), "PNG")
    pool.warm()
    (pid,) = pool.pids()
    threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(RenderCrashed):
        pool.render(source, VariantSpec(), "avif", deadline=later(20), max_frames=200, limits=LIMITS)
    small = images.encode(images.photo((64, 48)), "PNG")
    assert pool.render(small, VariantSpec(w=12), "png", deadline=later(20), max_frames=200, limits=LIMITS).width == 12
    assert pool.pids() and pool.pids()[0] != pid


def test_undecodable_bytes_are_a_render_error_and_the_process_lives_on(pool):
    with pytest.raises(RenderError, match=r"cannot decode|cannot identify"):
        pool.render(
            b"\x89PNG\r\n\x1a\n" + b"\0" * 64, VariantSpec(), "png", deadline=later(20), max_frames=200, limits=LIMITS
        )
    assert len(pool.pids()) == 1


def test_a_process_is_retired_after_max_jobs(pool):
    source = images.encode(images.photo((64, 48)), "PNG")
    limits = PoolLimits(memory_limit=512 * 2**20, max_jobs=2, max_growth=64 * 2**20)
    pool.render(source, VariantSpec(w=10), "png", deadline=later(20), max_frames=200, limits=limits)
    (first,) = pool.pids()
    pool.render(source, VariantSpec(w=11), "png", deadline=later(20), max_frames=200, limits=limits)
    assert pool.pids() == []
    pool.render(source, VariantSpec(w=12), "png", deadline=later(20), max_frames=200, limits=limits)
    assert pool.pids() and pool.pids()[0] != first


def test_max_frames_reaches_the_render(pool):
    frames = [Image.new("RGB", (8, 8), (index * 40, 0, 0)) for index in range(5)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=40)
    rendered = pool.render(buf.getvalue(), VariantSpec(), "gif", deadline=later(20), max_frames=3, limits=LIMITS)
    assert getattr(Image.open(io.BytesIO(rendered.data)), "n_frames", 1) == 3


def minor_faults(pid: int) -> int:
    """Pages the process has faulted in since it started (/proc/<pid>/stat, field 10)."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])


def faults_of_two_renders(pool: RenderPool, limits: PoolLimits) -> tuple[int, int, int]:
    """Render a 12 MP JPEG to 1900 px twice (two widths, the same work) in one process: the pages each render
    faulted in, and the process's RSS over its idle size after the second."""
    source = images.encode(images.photo((4000, 3000)), "JPEG", quality=90)
    pool.warm()
    (pid,) = pool.pids()
    faults = []
    for width in (1900, 1901):
        before = minor_faults(pid)
        pool.render(source, VariantSpec(w=width), "jpeg", deadline=later(60), max_frames=200, limits=limits)
        faults.append(minor_faults(pid) - before)
        assert pool.pids() == [pid], "the process was not replaced"
    return faults[0], faults[1], rss_bytes(pid) - pool._idle[0].idle_rss


def test_the_next_render_reuses_the_heap_a_render_left(pool):
    """A 12 MP decode and its resize are about 100 MB of buffers: kept, the next render faults none of them in (it
    faulted 20,000 pages again, 30 ms of a 290 ms render, when glibc unmapped each buffer at free)."""
    limits = PoolLimits(memory_limit=512 * 2**20, max_jobs=500, max_growth=128 * 2**20)
    first, second, held = faults_of_two_renders(pool, limits)
    assert first > 5_000, "the first render faults its buffers in"
    assert second < first / 5, f"the second faulted {second} pages in again (the first {first})"
    assert held <= 128 * 2**20


def test_a_process_gives_back_what_it_may_not_keep(pool):
    limits = PoolLimits(memory_limit=512 * 2**20, max_jobs=500, max_growth=16 * 2**20)
    first, second, held = faults_of_two_renders(pool, limits)
    assert second > first / 2, "given back, the memory is faulted in again"
    assert held <= 16 * 2**20


def test_one_process_of_the_pool_keeps_its_heap(pool):
    """Two renders at once start two processes; afterwards one keeps a render's heap, the other gave its back, so a
    worker holds one render's memory between renders, not one per process it ever needed."""
    source = images.encode(images.photo((4000, 3000)), "JPEG", quality=90)
    limits = PoolLimits(memory_limit=512 * 2**20, max_jobs=500, max_growth=128 * 2**20)
    barrier = threading.Barrier(2)

    def render(width: int) -> None:
        barrier.wait(timeout=10)
        pool.render(source, VariantSpec(w=width), "jpeg", deadline=later(60), max_frames=200, limits=limits)

    threads = [threading.Thread(target=render, args=(width,)) for width in (1900, 1901)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    held = sorted(rss_bytes(process.pid) - process.idle_rss for process in pool._idle)
    assert len(held) == 2
    assert held[0] < 16 * 2**20 < 32 * 2**20 < held[1], f"held over idle: {held}"
    taken = pool._take(limits)
    pool._give_back(taken, limits)
    assert taken is pool._keeper and rss_bytes(taken.pid) - taken.idle_rss == held[1], "the keeper is taken first"
