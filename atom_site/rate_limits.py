"""Rate limits per API key (or per user, for sessions and basic auth) on expensive endpoints.

`rate_limit(request, "runs")` is called first in an endpoint: past the bucket's limit
(`settings.ATOM_RATE_LIMITS`, from `ATOM_RATE_LIMIT_<BUCKET>`) it raises a 429 with
`Retry-After` before anything is read or written. Calls are counted in Django's default cache
(SQLite through diskcache on one host, Redis at scale) under a fixed-window key, with
`atom_site.cache.cache_count` (atomic on both backends, one round trip on Redis), so every
process of a host (or of the cluster, with Redis) counts together. A new bucket (a workflow
start, say) is one more entry in the setting.
"""

import math
import time

from django.conf import settings
from django.http import HttpRequest

from atom_site.auth import request_api_key
from atom_site.cache import cache_count
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
    rate = settings.ATOM_RATE_LIMITS[bucket]
    if rate is None:
        return
    now = time.time()
    window = int(now // rate.seconds)
    key = f"rate-limit:{bucket}:{caller_of(request)}:{rate.seconds}:{window}"
    window_left = (window + 1) * rate.seconds - now
    count = cache_count(key, timeout=math.ceil(window_left) + 1)
    if count > rate.count:
        raise RateLimited(
            bucket=bucket,
            count=rate.count,
            seconds=rate.seconds,
            retry_after=max(1, math.ceil(window_left)),
        )
