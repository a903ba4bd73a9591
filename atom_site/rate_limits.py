"""Rate limits per API key (or per user, for sessions and basic auth) on expensive endpoints.

`rate_limit(request, "runs")` is called first in an endpoint: past the bucket's limit
(`settings.ATOM_RATE_LIMITS`, from `ATOM_RATE_LIMIT_<BUCKET>`) it raises a 429 with
`Retry-After` before anything is read or written. An endpoint whose own preparation is cheap
may count with `rate_limit_counted` and ask just before it writes (the warm run does: its count
travels to Redis while the run is prepared). Calls are counted in Django's default cache
(SQLite through diskcache on one host, Redis at scale) under a fixed-window key, with
`atom_site.cache.cache_count` (atomic on both backends, one round trip on Redis), so every
process of a host (or of the cluster, with Redis) counts together. A new bucket (a workflow
start, say) is one more entry in the setting.
"""

import math
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest

from atom_site.auth import request_api_key
from atom_site.cache import CountInFlight, cache_count_sent
from atom_site.env import Rate
from atom_site.errors import ApiError


class RateLimited(ApiError):
    def __init__(self, *, bucket: str, count: int, seconds: int, retry_after: int) -> None:
        super().__init__(
            429,
            f"rate limit of {count} {bucket} per {seconds} s reached; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def caller_of(request: HttpRequest) -> str:
    """Who is counted: the key a request signed in with, else its user, else its address."""
    key = request_api_key(request)
    if key is not None:
        return f"key:{key.public_id}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"address:{request.META.get('REMOTE_ADDR', '')}"


def rate_limit(request: HttpRequest, bucket: str) -> None:
    """Count this call in `bucket`; raise `RateLimited` (429) past the bucket's limit."""
    rate_limit_counted(request, bucket).require()


class RateCheck:
    """A call counted in a bucket, whether it is past the limit read when asked: `require()`
    (the count travels meanwhile). As a context manager it gives `require` and asks it on
    leaving, whatever happened inside: a call past its limit is a 429 even where something
    else refused it first, as when the limit is checked first."""

    def __init__(
        self, bucket: str, rate: Rate | None, count: CountInFlight | None, window_left: float
    ) -> None:
        self.bucket, self.rate, self.count, self.window_left = bucket, rate, count, window_left

    def require(self) -> None:
        if self.rate is not None and self.count.result() > self.rate.count:
            raise RateLimited(
                bucket=self.bucket,
                count=self.rate.count,
                seconds=self.rate.seconds,
                retry_after=max(1, math.ceil(self.window_left)),
            )

    def __enter__(self) -> Callable[[], None]:
        return self.require

    def __exit__(self, *exc_info: object) -> bool:
        self.require()
        return False


def rate_limit_counted(request: HttpRequest, bucket: str) -> RateCheck:
    """Count this call in `bucket` now and answer whether it is past the limit later
    (`RateCheck.require`), so that a caller can prepare while the count travels, as long as
    it writes nothing before asking."""
    rate = settings.ATOM_RATE_LIMITS[bucket]
    if rate is None:
        return RateCheck(bucket, rate, None, 0.0)
    now = time.time()
    window = int(now // rate.seconds)
    key = f"rate-limit:{bucket}:{caller_of(request)}:{rate.seconds}:{window}"
    window_left = (window + 1) * rate.seconds - now
    count = cache_count_sent(key, timeout=math.ceil(window_left) + 1)
    return RateCheck(bucket, rate, count, window_left)
