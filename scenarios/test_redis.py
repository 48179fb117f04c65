"""The Redis cache as the app uses it: key prefixes, eviction under maxmemory, TTL on every key (C-RD-1..3)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from infratests.backup.target import scratch_redis
from infratests.faults.process import skip_unsupported
from infratests.load.workloads.requests import client_for
from infratests.load.workloads.stacks import second_app
from infratests.stack.effective import broken_promise
from infratests.stack.topology import Stack


@pytest.fixture
def cache_node(stack: Stack) -> Iterator[redis.Redis]:
    """The shared stack's cache node, directly (not through the fault proxy)."""
    client = redis.Redis.from_url(stack["redis-cache"].endpoint.url, socket_timeout=5.0)
    yield client
    client.close()


@pytest.mark.gate
@pytest.mark.needs("redis_cache")
def test_two_apps_with_different_prefixes_never_see_each_others_keys(stack: Stack,
                                                                    cache_node: redis.Redis) -> None:
    """C-RD-1: two apps on one Redis, the app's own prefix and ``other-app:``: no key is shared or visible."""
    run = uuid.uuid4().hex[:6]
    keys = [f"rd1-{run}-{i}" for i in range(10)]
    with skip_unsupported(), httpx.Client(base_url=stack["app-1"].endpoint.url, timeout=10.0) as first, \
            second_app(stack, CACHE_PREFIX="other-app:") as second:
        for key in keys:
            first.put(f"/cache/{key}", content=f"first {key}").raise_for_status()
            second.put(f"/cache/{key}", content=f"second {key}").raise_for_status()
        crossed = [(key, app_name, got) for key in keys for app_name, client, want in
                   (("first", first, "first"), ("second", second, "second"))
                   if (got := client.get(f"/cache/{key}").json().get("value")) != f"{want} {key}"]
        peeked = [key for key in keys if first.get(f"/cache/other-app:{key}").status_code != 404]
    stored = sorted(k.decode() for k in cache_node.scan_iter(match=f"*rd1-{run}-*", count=1000))
    assert not crossed and not peeked and len(stored) == 2 * len(keys), (
        f"C-RD-1 violated: apps with different prefixes shared keys: values crossed {crossed[:4]}, "
        f"first app read the second's keys {peeked[:4]}, Redis holds {len(stored)} keys "
        f"for {2 * len(keys)} writes: {stored[:6]}")


@pytest.mark.gate
def test_writes_past_maxmemory_evict_instead_of_failing(stack: Stack) -> None:
    """C-RD-2: a cache node with the profile's eviction policy and a 2 MB maxmemory takes 6.4 MB of
    writes without one failing; old keys are evicted."""
    small = dataclasses.replace(stack.profile, redis=dataclasses.replace(stack.profile.redis, maxmemory="2mb"))
    blob = b"x" * 32_000
    failed: list[tuple[int, str]] = []
    with scratch_redis(stack, small) as node:
        client = redis.Redis.from_url(node.endpoint.url, socket_timeout=5.0)
        for i in range(200):
            try:
                client.set(f"rd2-{i}", blob, ex=300)
            except redis.ResponseError as error:
                failed.append((i, str(error)))
        stats = client.info("stats")
        evicted = int(stats["evicted_keys"]) if isinstance(stats, dict) else 0
        client.close()
    broken = broken_promise(stack, "redis.maxmemory_policy")
    assert not failed and evicted > 0 and not broken, (
        f"C-RD-2 violated: writing 6.4 MB into a 2 MB cache node: {len(failed)} writes failed "
        f"(first {failed[:2]}), {evicted} keys evicted; writes past maxmemory must evict, not fail"
        + (f"; {broken}" if broken else ""))


@pytest.mark.gate
@pytest.mark.needs("redis_cache")
def test_every_cache_key_the_app_writes_has_a_ttl(stack: Stack, clean_redis: None,
                                                  cache_node: redis.Redis) -> None:
    """C-RD-3: after cache traffic through nginx, a SCAN + TTL audit of the cache node finds no key without a TTL."""
    with client_for(stack.url, stack.tls.ca) as public:
        for i in range(30):
            public.put(f"/cache/rd3-{i}", content=f"value {i}").raise_for_status()
            public.get(f"/cache/rd3-{i % 7}").raise_for_status()
    audit = {key.decode(): ttl for key in cache_node.scan_iter(count=1000)
             if isinstance(ttl := cache_node.ttl(key), int)}
    forever = sorted(key for key, ttl in audit.items() if ttl < 0)
    assert len(audit) >= 30 and not forever, (
        f"C-RD-3 violated: {len(forever)} of {len(audit)} cache keys have no TTL: {forever[:8]}")


@pytest.mark.gate
@pytest.mark.live_safe
@pytest.mark.needs("redis_cache")
def test_cache_keys_in_use_have_a_ttl(stack: Stack) -> None:
    """C-RD-3, read-only on a live environment: a sample of the keys the cache node holds (up to 2,000,
    SCAN) all carry a TTL. On a stack the suite starts, the app first writes a few through its own
    cache route, so there is something to audit."""
    if "redis-cache" not in stack.services:
        pytest.skip("needs the cache node's URL (external.redis_urls)")
    if not stack.external:
        with httpx.Client(base_url=stack["app-1"].endpoint.url, timeout=10.0) as app:
            for i in range(5):
                app.put(f"/cache/rd3-audit-{uuid.uuid4().hex[:6]}-{i}", content="audited").raise_for_status()
    node = redis.Redis.from_url(stack["redis-cache"].endpoint.url, socket_timeout=5.0)
    try:
        sample = [key for key, _ in zip(node.scan_iter(count=500), range(2000), strict=False)]
        forever = sorted(key.decode(errors="replace") for key in sample if node.ttl(key) == -1)
    finally:
        node.close()
    if not sample:
        pytest.skip("the cache node holds no key to audit")
    print(f"C-RD-3: {len(sample)} keys sampled, {len(forever)} without a TTL")
    assert not forever, (f"C-RD-3 violated: {len(forever)} of {len(sample)} sampled cache keys have no TTL: "
                         f"{forever[:8]}")
