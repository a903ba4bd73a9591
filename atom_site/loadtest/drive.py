"""The client side of the load test: a fixed number of asyncio tasks sharing one httpx client,
each sending the mix's requests back to back until the deadline; every answer is timed and
checked."""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class Operation:
    """One kind of request in the mix: `weight` of every 100 requests."""

    name: str
    weight: int
    method: str
    path: str
    body: Callable[[random.Random], dict] | None = None
    expected: tuple[int, ...] = (200,)
    is_accepted: Callable[[dict], bool] = lambda answer: True


@dataclass
class Tally:
    """Latencies (seconds) per operation, errors with their first examples, workflow runs."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: list[str] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)

    def record(self, name: str, seconds: float, error: str | None) -> None:
        self.latencies.setdefault(name, []).append(seconds)
        if error is not None:
            self.errors[name] = self.errors.get(name, 0) + 1
            if len(self.error_examples) < 10:
                self.error_examples.append(f"{name}: {error}")

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def request_count(self) -> int:
        return sum(len(values) for values in self.latencies.values())


def mix_operations() -> tuple[list[Operation], list[str]]:
    """Marketplace searches, skill runs, installs (cache hits once warm) and workflow starts,
    on the demo catalog."""
    words = ["text", "json", "date", "csv", "slug", "url", "case", "number"]
    names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Édith Piaf", "Katherine Johnson"]
    return [
        Operation("search", 45, "GET", "/api/marketplace/skills?q={word}"),
        Operation(
            "skill run",
            30,
            "POST",
            "/api/skills/change-case/run",
            body=lambda rng: {"params": {"text": rng.choice(names)}},
            is_accepted=lambda answer: answer.get("status") == "succeeded",
        ),
        Operation(
            "install",
            20,
            "POST",
            "/api/installs/",
            body=lambda rng: {"skill": rng.choice(["slugify-text", "change-case", "word-count"])},
            is_accepted=lambda answer: answer.get("status") == "succeeded",
        ),
        Operation(
            "workflow start",
            5,
            "POST",
            "/api/workflows/name-to-identifiers/runs",
            body=lambda rng: {"inputs": {"name": f"{rng.choice(names)} {rng.randrange(10**6)}"}},
            expected=(200, 202),
        ),
    ], words


async def _one(
    client: httpx.AsyncClient, operation: Operation, rng: random.Random, words: list[str]
) -> tuple[float, str | None, dict | None]:
    path = operation.path.format(word=rng.choice(words))
    body = operation.body(rng) if operation.body else None
    started = time.perf_counter()
    try:
        response = await client.request(operation.method, path, json=body)
    except httpx.HTTPError as error:
        return time.perf_counter() - started, f"{type(error).__name__}: {error}", None
    seconds = time.perf_counter() - started
    if response.status_code not in operation.expected:
        return seconds, f"{response.status_code} {response.text[:200]}", None
    answer = response.json()
    if not operation.is_accepted(answer):
        return seconds, f"{response.status_code} but {str(answer)[:200]}", answer
    return seconds, None, answer


async def _client_loop(
    client: httpx.AsyncClient,
    *,
    operations: list[Operation],
    words: list[str],
    deadline: float,
    tally: Tally,
    seed: int,
) -> None:
    rng = random.Random(seed)
    weights = [operation.weight for operation in operations]
    while time.monotonic() < deadline:
        [operation] = rng.choices(operations, weights=weights)
        seconds, error, answer = await _one(client, operation, rng, words)
        tally.record(operation.name, seconds, error)
        if operation.name == "workflow start" and answer is not None:
            tally.run_ids.append(answer["id"])


async def load_drive(*, base_url: str, token: str, clients: int, seconds: float) -> Tally:
    """`clients` concurrent clients for `seconds`, then every request in flight finishes (each
    bounded by `REQUEST_TIMEOUT`)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no log line per request
    operations, words = mix_operations()
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=REQUEST_TIMEOUT,
        limits=limits,
    ) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _client_loop(
                    client,
                    operations=operations,
                    words=words,
                    deadline=deadline,
                    tally=tally,
                    seed=index,
                )
                for index in range(clients)
            )
        )
    return tally
