"""The variant cache: Redis down, hanging or lying still serves; one render per key; atomic disk writes."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django_redis import get_redis_connection

from transforms import cache, tiers


def redis_caches(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
        }
    }


@pytest.fixture(autouse=True)
def _closed_circuit() -> Iterator[None]:
    tiers.redis_tier._open_until = 0.0
    yield
    tiers.redis_tier._open_until = 0.0


@pytest.fixture
def hanging_redis() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: the worst kind of sick Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def fetch(key: str, renders: list[int], delay: float = 0.0, original_id: str = "cachetest") -> tuple[bytes, str]:
    def render() -> bytes:
        renders.append(1)
        time.sleep(delay)
        return b"variant-bytes-" + key.encode()

    return cache.fetch_or_render(original_id=original_id, key=key, out_format="png", render=render)


def new_key() -> str:
    return cache.variant_key(
        pipeline_version="test", original_sha256=str(time.perf_counter_ns()), canonical_query="w=1", out_format="png"
    )


@pytest.mark.parametrize("kind", ["refused", "hanging"])
def test_redis_down_still_serves_quickly(kind, hanging_redis):
    url = f"redis://127.0.0.1:{closed_port()}/0" if kind == "refused" else hanging_redis
    with override_settings(REDIS_URL=url, CACHES=redis_caches(url)):
        key, renders = new_key(), list[int]()
        started = time.monotonic()
        data, tier = fetch(key, renders)
        assert (tier, renders) == ("miss", [1])
        data_again, tier_again = fetch(key, renders)
        elapsed = time.monotonic() - started
        assert (tier_again, data_again) == ("hit-disk", data)
        assert elapsed < 1.5, f"two requests with a sick Redis took {elapsed:.2f}s"
        assert tiers.redis_tier.last_error is not None
        # With the circuit open, later requests do not touch Redis at all.
        started = time.monotonic()
        for _ in range(20):
            fetch(key, renders)
        assert time.monotonic() - started < 0.2
        assert renders == [1]


def test_redis_comes_back():
    url = f"redis://127.0.0.1:{closed_port()}/0"
    key, renders = new_key(), list[int]()
    with override_settings(REDIS_URL=url, CACHES=redis_caches(url)):
        fetch(key, renders)
    tiers.redis_tier._open_until = 0.0  # the retry interval has passed
    assert fetch(key, renders)[1] == "hit-disk"
    assert fetch(key, renders)[1] == "hit-redis"


def test_redis_garbage_is_ignored():
    key, other, renders = new_key(), new_key(), list[int]()
    data, _ = fetch(key, renders)
    fetch(other, renders)
    store = get_redis_connection("default")
    store.set(f"{tiers.REDIS_PREFIX}cachetest:{key}", b"\x00garbage\xff")
    assert fetch(key, renders) == (data, "hit-disk")
    assert fetch(key, renders) == (data, "hit-redis")
    store.set(f"{tiers.REDIS_PREFIX}cachetest:{key}", store.get(f"{tiers.REDIS_PREFIX}cachetest:{other}"))
    assert fetch(key, renders) == (data, "hit-disk"), "a value stored under another key is garbage too"
    assert renders == [1, 1]


def test_bytes_planted_in_redis_are_not_served():
    """Whoever can write to Redis but lacks SECRET_KEY cannot have their bytes served as an immutable variant."""
    key, other, renders = new_key(), new_key(), list[int]()
    data, _ = fetch(key, renders)
    other_data, _ = fetch(other, renders)
    store, name = get_redis_connection("default"), f"{tiers.REDIS_PREFIX}cachetest:{key}"
    genuine = store.get(name)
    assert genuine.endswith(data) and len(other_data) == len(data)
    store.set(name, genuine[: -len(data)] + other_data)  # the genuine header, another image's bytes
    assert fetch(key, renders) == (data, "hit-disk"), "the planted value is refused, and disk answers"
    assert store.get(name) == genuine, "the planted value was deleted; the disk hit stored the real one again"
    with override_settings(SECRET_KEY="a guess at the secret"):
        tiers.redis_tier.put("cachetest", key, other_data)  # signed, but not with this deployment's key
    assert fetch(key, renders) == (data, "hit-disk")
    assert fetch(key, renders) == (data, "hit-redis")
    assert renders == [1, 1]


@pytest.mark.parametrize("redis_configured", [True, False], ids=["redis-lock", "file-lock"])
def test_one_render_for_concurrent_requests(redis_configured):
    key, renders, results = new_key(), list[int](), list[tuple[bytes, str]]()
    overrides = {} if redis_configured else {"REDIS_URL": ""}
    with override_settings(**overrides):

        def worker() -> None:
            results.append(fetch(key, renders, delay=0.3))

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert renders == [1]
    tiers = sorted(tier for _, tier in results)
    assert tiers.count("miss") == 1 and len(tiers) == 16
    assert len({data for data, _ in results}) == 1


def test_disk_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    path = tmp_path / "a" / "b.png"
    assert cache.disk_write(path, b"x" * 100_000)
    assert path.read_bytes() == b"x" * 100_000
    assert [p.name for p in path.parent.iterdir()] == ["b.png"]


def test_disk_write_failure_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    assert cache.disk_write(blocker / "sub" / "x.png", b"data") is False


def test_big_variants_skip_redis():
    key, renders = new_key(), list[int]()
    with override_settings(REDIS_VARIANT_MAX_BYTES=4):
        fetch(key, renders)
        assert fetch(key, renders)[1] == "hit-disk"


def test_purge_refuses_paths_outside_the_variants_dir():
    for bad in ("", "..", "../x", "a/b"):
        with pytest.raises(ValueError):
            cache.variants_purge(bad)
    assert settings.VARIANTS_DIR.exists()


@override_settings(VARIANT_MEMORY_CACHE_BYTES=1000)
def test_memory_tier_serves_hot_variants_and_stays_in_budget():
    tiers.memory_tier._items.clear()
    tiers.memory_tier._bytes = 0
    key, renders = new_key(), list[int]()
    data, tier = fetch(key, renders, original_id="memorytest")
    assert tier == "miss"
    assert fetch(key, renders, original_id="memorytest") == (data, "hit-memory")
    others = [new_key() for _ in range(40)]
    for other in others:
        fetch(other, renders, original_id="memoryother")  # ~80 bytes each: the budget evicts the oldest
    assert tiers.memory_tier._bytes <= 1000
    assert fetch(key, renders, original_id="memorytest")[1] == "hit-redis", "evicted, still in Redis"
    tiers.memory_tier.purge("memoryother")
    assert all(owner != "memoryother" for owner, _ in tiers.memory_tier._items.values())
    big = new_key()
    tiers.memory_tier.put("memorybig", big, b"x" * 126)  # over an eighth of the budget: never kept
    assert tiers.memory_tier.get(big) is None


def test_memory_tier_reads_without_its_lock_while_others_put_purge_and_reset():
    """get() takes no lock: readers racing puts that evict, purges and resets never fail, never see another key's
    bytes, and leave the byte count true."""
    from transforms.cache.memory import MemoryTier

    tier = MemoryTier()
    tier._budget = 64 * 1024
    keys = [f"k{i}" for i in range(200)]
    payload = {key: key.encode() * 40 for key in keys}  # ~160 bytes each: 200 of them overflow the budget
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                for key in keys:
                    data = tier.get(key)
                    assert data is None or data == payload[key]
        except BaseException as exc:  # reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as CPython lets them: the races happen
    for reader in readers:
        reader.start()
    try:
        for round_ in range(30):
            for key in keys:
                tier.put(f"owner{hash(key) % 3}", key, payload[key])
            tier.purge(f"owner{round_ % 3}")
            if round_ % 10 == 9:
                tier.reset()
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        sys.setswitchinterval(interval)
    assert errors == []
    assert tier._bytes == sum(len(data) for _, data in tier._items.values())


def test_hits_elsewhere_keep_the_disk_copys_lru_clock_at_most_once_a_minute():
    key, renders = new_key(), list[int]()
    fetch(key, renders)
    path = cache.variant_path("cachetest", key, "png")
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))
    assert fetch(key, renders)[1] == "hit-redis"
    assert path.stat().st_mtime > time.time() - 60, "a Redis hit refreshes the disk copy's mtime"
    os.utime(path, (hour_ago, hour_ago))
    assert fetch(key, renders)[1] == "hit-redis"
    assert path.stat().st_mtime == pytest.approx(hour_ago), "not again within the minute: no stat a hit"
    cache._touched[key] -= cache.LRU_TOUCH_SECONDS  # the minute has passed
    assert fetch(key, renders)[1] == "hit-redis"
    assert path.stat().st_mtime > time.time() - 60
    assert renders == [1]


def test_a_hit_survives_its_kept_connection_being_closed_by_the_server():
    key, renders = new_key(), list[int]()
    data, _ = fetch(key, renders)
    assert fetch(key, renders) == (data, "hit-redis")
    connection = tiers.redis_tier._local.connection
    client_id = tiers.redis_tier._command(connection, "CLIENT", "ID")
    get_redis_connection("default").client_kill_filter(_id=client_id)  # as an idle timeout or a proxy would
    assert fetch(key, renders) == (data, "hit-redis"), "one more try on a new connection"
    assert tiers.redis_tier._command(connection, "CLIENT", "ID") != client_id
    assert tiers.redis_tier.last_error is None
    assert renders == [1]


def test_a_forked_worker_reads_redis_on_a_connection_of_its_own():
    key, renders = new_key(), list[int]()
    data, _ = fetch(key, renders)
    assert fetch(key, renders) == (data, "hit-redis")
    parents = tiers.redis_tier._local.connection
    readable, writable = os.pipe()
    pid = os.fork()  # as granian and gunicorn start a worker from the preloaded application
    if pid == 0:
        try:
            mine = tiers.redis_tier._connection(tiers.redis_tier.client())
            os.write(writable, b"own" if mine is not parents else b"parent's")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(readable, 16) == b"own"
    assert tiers.redis_tier._connection(tiers.redis_tier.client()) is parents


def test_a_hit_whose_redis_is_gone_opens_the_circuit(unix_socket_redis_process):
    url, process = unix_socket_redis_process
    with override_settings(REDIS_URL=url, CACHES=redis_caches(url)):
        key, renders = new_key(), list[int]()
        data, _ = fetch(key, renders)
        assert fetch(key, renders) == (data, "hit-redis")
        process.kill()
        process.wait()
        started = time.monotonic()
        assert fetch(key, renders) == (data, "hit-disk"), "the retry fails too; disk answers"
        assert time.monotonic() - started < 0.5
        assert tiers.redis_tier.last_error is not None
        assert not tiers.redis_tier.available(), "the circuit is open"
    assert renders == [1]


@pytest.fixture
def unix_socket_redis_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private redis-server listening only on a unix socket, as a Redis on the same machine may."""
    directory = tempfile.mkdtemp(prefix="redis-", dir="/tmp")  # a socket path must stay under 108 bytes
    socket_path = os.path.join(directory, "redis.sock")
    argv = ["redis-server", "--port", "0", "--unixsocket", socket_path, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([*argv, "--dir", directory], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(socket_path):
            assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
            time.sleep(0.05)
        yield f"unix://{socket_path}?db=0", process
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def unix_socket_redis(unix_socket_redis_process: tuple[str, subprocess.Popen[bytes]]) -> str:
    return unix_socket_redis_process[0]


def test_a_unix_socket_redis_serves_hits(unix_socket_redis):
    with override_settings(REDIS_URL=unix_socket_redis, CACHES=redis_caches(unix_socket_redis)):
        key, renders = new_key(), list[int]()
        data, tier = fetch(key, renders)
        assert tier == "miss"
        assert fetch(key, renders) == (data, "hit-redis")
        assert redis.Redis.from_url(unix_socket_redis).exists(f"{tiers.REDIS_PREFIX}cachetest:{key}")
        assert tiers.redis_tier.last_error is None
        assert renders == [1]
