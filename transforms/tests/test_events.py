"""A delete or a moved focal point reaches every worker (transforms/events.py): the host's through its event log,
with or without Redis, and every host's through Redis pub/sub."""

import time

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from transforms import event_log, events
from transforms.cache import memory_tier, variants_dir
from transforms.variants import known_originals

from . import images

pytestmark = pytest.mark.django_db


def wait_for(condition, seconds: float = 1.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        time.sleep(0.005)
    return time.monotonic() - started


@override_settings(VARIANT_MEMORY_CACHE_BYTES=8 * 2**20)
def test_a_delete_published_by_another_host_empties_this_workers_memories_and_disk(upload_original):
    original_id = upload_original(images.encode(images.marker((200, 150)), "JPEG"), "m.jpg")["id"]
    response = APIClient().get(f"/image/{original_id}/?w=80")
    assert response.status_code == 200
    assert known_originals.get(original_id) is not None
    assert events.listener.subscribed.is_set(), "facts were remembered before the subscription"
    assert any(owner == original_id for owner, _ in memory_tier._items.values())
    assert variants_dir(original_id).is_dir()

    # Another host's worker: its own connection to the same Redis, publishing as forget_original does.
    redis.Redis.from_url(settings.REDIS_URL).publish(events.channel(), f"deleted:{original_id}")

    took = wait_for(lambda: known_originals.get(original_id) is None and not variants_dir(original_id).exists())
    assert not any(owner == original_id for owner, _ in memory_tier._items.values())
    print(f"forgotten {took * 1000:.1f} ms after the message")


def test_a_moved_focal_point_elsewhere_makes_this_worker_read_the_facts_again(upload_original):
    original_id = upload_original(images.encode(images.marker((200, 150)), "JPEG"), "m.jpg")["id"]
    assert APIClient().get(f"/image/{original_id}/?w=80").status_code == 200
    assert known_originals.get(original_id) is not None
    redis.Redis.from_url(settings.REDIS_URL).publish(events.channel(), f"changed:{original_id}")
    wait_for(lambda: known_originals.get(original_id) is None)
    assert variants_dir(original_id).is_dir(), "a moved point keeps the variants (their keys name the point)"


def test_a_darkroom_on_another_database_of_the_same_redis_is_not_heard(upload_original):
    """Pub/sub is global to the server; the channel names the database, as the keys are kept per database."""
    original_id = upload_original(images.encode(images.marker((200, 150)), "JPEG"), "m.jpg")["id"]
    assert APIClient().get(f"/image/{original_id}/?w=80").status_code == 200
    ours = events.channel()
    assert (
        ours == f"darkroom:{redis.Redis.from_url(settings.REDIS_URL).connection_pool.connection_kwargs['db']}:originals"
    )
    with override_settings(REDIS_URL=settings.REDIS_URL.rsplit("/", 1)[0] + "/3"):
        theirs = events.channel()
    assert theirs == "darkroom:3:originals" != ours
    heard = events.listener.received
    redis.Redis.from_url(settings.REDIS_URL).publish(theirs, f"deleted:{original_id}")
    time.sleep(0.3)
    assert events.listener.received == heard and known_originals.get(original_id) is not None
    redis.Redis.from_url(settings.REDIS_URL).publish(ours, f"deleted:{original_id}")
    wait_for(lambda: known_originals.get(original_id) is None)


@pytest.mark.parametrize("redis_url", ["", settings.REDIS_URL], ids=["no-redis", "redis"])
@override_settings(VARIANT_MEMORY_CACHE_BYTES=8 * 2**20)
def test_a_delete_by_another_worker_of_this_host_is_heard_through_the_log(upload_original, redis_url: str):
    with override_settings(REDIS_URL=redis_url):
        original_id = upload_original(images.encode(images.marker((200, 150)), "JPEG"), "m.jpg")["id"]
        assert APIClient().get(f"/image/{original_id}/?w=80").status_code == 200
        assert known_originals.get(original_id) is not None and variants_dir(original_id).is_dir()
        read = events.listener.read

        # Another worker process of this host, publishing as forget_original does, minus Redis.
        event_log.append(events.log_path(), "deleted", original_id)

        took = wait_for(lambda: known_originals.get(original_id) is None and not variants_dir(original_id).exists())
        assert not any(owner == original_id for owner, _ in memory_tier._items.values())
        assert events.listener.read > read
        print(f"forgotten {took * 1000:.1f} ms after the line")


def test_a_moved_focal_point_on_another_worker_of_this_host_is_heard_without_redis(upload_original):
    with override_settings(REDIS_URL=""):
        original_id = upload_original(images.encode(images.marker((200, 150)), "JPEG"), "m.jpg")["id"]
        assert APIClient().get(f"/image/{original_id}/?w=80").status_code == 200
        event_log.append(events.log_path(), "changed", original_id)
        wait_for(lambda: known_originals.get(original_id) is None, seconds=0.5)


@pytest.mark.parametrize("original_id", ["", "../x", "a\nb", "a:b", "x" * 17])
def test_publish_tells_nobody_of_what_is_not_an_original_id(original_id: str):
    log = events.log_path()
    before = log.read_bytes() if log.exists() else b""
    subscriber = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(events.channel())
    try:
        with pytest.raises(ValueError):
            events.publish("deleted", original_id)
        assert subscriber.get_message(timeout=0.2) is None
    finally:
        subscriber.close()
    assert (log.read_bytes() if log.exists() else b"") == before
