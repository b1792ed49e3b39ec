"""The `limits` package (the rate limiter behind Flask-Limiter and slowapi) with its Redis storage, unchanged: its
fixed-window, moving-window and sliding-window strategies run Lua scripts (incr_expire, acquire_moving_window,
moving_window, acquire_sliding_window, sliding_window, clear_keys) by EVALSHA. Checked against redis-server too."""

import pytest

limits = pytest.importorskip("limits")
from limits import parse, storage, strategies  # noqa: E402


@pytest.fixture
def store(server):
    redis_storage = storage.RedisStorage(f"redis://{server.host}:{server.port}")
    assert redis_storage.check()
    yield redis_storage
    redis_storage.reset()


@pytest.mark.parametrize("strategy", [
    strategies.FixedWindowRateLimiter,
    strategies.MovingWindowRateLimiter,
    strategies.SlidingWindowCounterRateLimiter,
])
def test_a_limit_allows_its_hits_then_refuses(store, strategy):
    limiter = strategy(store)
    limit = parse("3/minute")
    assert limiter.test(limit, "alice")
    assert [limiter.hit(limit, "alice") for _ in range(4)] == [True, True, True, False]
    assert not limiter.test(limit, "alice")
    stats = limiter.get_window_stats(limit, "alice")
    assert stats.remaining == 0
    # Another identity has its own window.
    assert limiter.hit(limit, "bob")
    assert limiter.get_window_stats(limit, "bob").remaining == 2
    # Clearing a window (the clear_keys script for the moving window) starts it again.
    limiter.clear(limit, "alice")
    assert limiter.hit(limit, "alice")
    assert limiter.get_window_stats(limit, "alice").remaining == 2


@pytest.mark.parametrize("strategy, refused_hit_counts", [
    # The fixed window counts a refused hit too (INCRBY, then compare); the others only record accepted ones.
    (strategies.FixedWindowRateLimiter, True),
    (strategies.MovingWindowRateLimiter, False),
    (strategies.SlidingWindowCounterRateLimiter, False),
])
def test_hits_with_a_cost(store, strategy, refused_hit_counts):
    limiter = strategy(store)
    limit = parse("10/hour")
    assert limiter.hit(limit, "api", cost=7)
    assert not limiter.hit(limit, "api", cost=4)
    assert limiter.hit(limit, "api", cost=3) is not refused_hit_counts
    assert not limiter.hit(limit, "api")
    assert limiter.get_window_stats(limit, "api").remaining == 0


def test_moving_window_keeps_one_entry_per_hit(store, server):
    limiter = strategies.MovingWindowRateLimiter(store)
    limit = parse("5/minute")
    for _ in range(3):
        assert limiter.hit(limit, "k")
    with server.client() as r:
        keys = r.keys("LIMITS:*")
        assert len(keys) == 1
        assert r.type(keys[0]) == b"list" and r.llen(keys[0]) == 3
