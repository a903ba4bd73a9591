"""The workflow shapes the side-by-side benchmark runs on Atom and on its peers, as plain data
(no import of Django or of a peer): each shape is a list of steps in topological order, a step
being (id, parents, seconds it sleeps). Both sides run the same no-op step: sleep `seconds`
when given, return `{"value": …}`."""

from __future__ import annotations

Step = tuple[str, tuple[str, ...], float]


def chain(n: int) -> list[Step]:
    return [(f"s{i}", (f"s{i - 1}",) if i else (), 0.0) for i in range(n)]


def fan_out(width: int, seconds: float = 0.0) -> list[Step]:
    middle = [(f"m{i}", ("root",), seconds) for i in range(width)]
    return [("root", (), 0.0), *middle, ("merge", tuple(step[0] for step in middle), 0.0)]


def layered_dag(layers: int, width: int) -> list[Step]:
    """`layers` × `width` steps, each (past the first layer) after two of the layer before."""
    steps: list[Step] = []
    for layer in range(layers):
        for i in range(width):
            parents = ()
            if layer:
                parents = tuple(sorted({f"l{layer - 1}n{i}", f"l{layer - 1}n{(i + 1) % width}"}))
            steps.append((f"l{layer}n{i}", parents, 0.0))
    return steps


# name → (steps, repetitions measured after one warm-up run)
SHAPES: dict[str, tuple[list[Step], int]] = {
    "chain of 10": (chain(10), 5),
    "chain of 40": (chain(40), 5),
    "fan-out 50 wide": (fan_out(50), 5),
    "fan-out 3 × 1 s": (fan_out(3, 1.0), 3),
    "DAG of 100 (10 × 10)": (layered_dag(10, 10), 5),
}
