"""The graph of a workflow's steps, on plain lists: Kahn's algorithm, cycles spelled out,
generations, upstream checks and the longest (critical) path.

Everything here is iterative: a 5,000-deep chain costs no recursion. Steps are numbered by
their position; `parents[i]` lists the positions step i depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from workflows.errors import DefinitionError

ARROW = " → "
MAX_CYCLES_REPORTED = 20


@dataclass(slots=True)
class Graph:
    ids: list[str]
    parents: list[list[int]]
    children: list[list[int]]
    # Only when there is no cycle: every step once, each after what it depends on, grouped into
    # generations (the steps of one generation can run in parallel).
    order: list[int] = field(default_factory=list)
    generations: list[list[int]] = field(default_factory=list)
    is_acyclic: bool = False

    @property
    def depth(self) -> int:
        return len(self.generations)

    @property
    def width(self) -> int:
        return max((len(generation) for generation in self.generations), default=0)

    def is_upstream(self, ancestor: int, step: int) -> bool:
        """Whether `ancestor` must finish before `step` starts (a path of depends_on)."""
        parents = self.parents
        if ancestor in parents[step]:
            return True
        seen = {step}
        stack = list(parents[step])
        while stack:
            node = stack.pop()
            if node == ancestor:
                return True
            if node in seen:
                continue
            seen.add(node)
            stack.extend(parents[node])
        return False


def graph_build(
    *, ids: Sequence[str], depends_on: Sequence[Sequence[str]], indexes: Sequence[int]
) -> tuple[Graph, list[DefinitionError]]:
    """The graph of steps with unique ids, and every error of its edges: unknown and
    self-dependencies, then each cycle (`a → b → c → a`, in the order the steps run)."""
    errors: list[DefinitionError] = []
    position = {step_id: i for i, step_id in enumerate(ids)}
    count = len(ids)
    parents: list[list[int]] = [[] for _ in range(count)]
    children: list[list[int]] = [[] for _ in range(count)]
    for i, wanted in enumerate(depends_on):
        if len(wanted) == 1:  # the common case, without the bookkeeping below
            parent = position.get(wanted[0])
            if parent is not None and parent != i:
                parents[i].append(parent)
                children[parent].append(i)
                continue
        own = ids[i]
        seen: set[int] = set()
        for name in wanted:
            parent = position.get(name)
            if parent is None:
                errors.append(
                    DefinitionError(
                        "unknown_dependency",
                        "depends_on",
                        f"no step {name!r} in this workflow",
                        step=own,
                        index=indexes[i],
                    )
                )
            elif parent == i:
                errors.append(
                    DefinitionError(
                        "self_dependency",
                        "depends_on",
                        "a step cannot depend on itself",
                        step=own,
                        index=indexes[i],
                    )
                )
            elif parent not in seen:
                seen.add(parent)
                parents[i].append(parent)
                children[parent].append(i)
    graph = Graph(ids=list(ids), parents=parents, children=children)
    _kahn(graph)
    if not graph.is_acyclic:
        for cycle in cycles_find(graph):
            first = cycle[0]
            path = ARROW.join(ids[node] for node in [*cycle, first])
            errors.append(
                DefinitionError(
                    "cycle",
                    "depends_on",
                    f"cycle: {path}",
                    step=ids[first],
                    index=indexes[first],
                )
            )
    return graph, errors


def graph_from_parents(ids: list[str], parents: list[list[int]]) -> Graph | None:
    """The graph of steps whose `parents` are already positions, none unknown: the children
    lists and Kahn's pass, with no error to report (a cycle, a self-dependency included,
    leaves it not acyclic). None when a step lists a parent twice (`graph_build` drops the
    second, and says nothing)."""
    children: list[list[int]] = [[] for _ in parents]
    last_child = [-1] * len(parents)
    for child, own in enumerate(parents):
        for parent in own:
            if last_child[parent] == child:
                return None
            last_child[parent] = child
            children[parent].append(child)
    graph = Graph(ids=ids, parents=parents, children=children)
    _kahn(graph)
    return graph


def _kahn(graph: Graph) -> None:
    parents, children = graph.parents, graph.children
    waiting = list(map(len, parents))
    generation = [i for i, count in enumerate(waiting) if not count]
    order: list[int] = []
    generations: list[list[int]] = []
    while generation:
        generations.append(generation)
        order += generation
        following: list[int] = []
        ready = following.append
        for node in generation:
            for child in children[node]:
                count = waiting[child] - 1
                waiting[child] = count
                if not count:
                    ready(child)
        generation = following
    graph.is_acyclic = len(order) == len(parents)
    if graph.is_acyclic:
        graph.order = order
        graph.generations = generations


def cycles_find(graph: Graph) -> list[list[int]]:
    """Distinct cycles (at most MAX_CYCLES_REPORTED), each listed in the order its steps would
    run and starting at the step that comes first in the definition. Iterative DFS."""
    children = graph.children
    count = len(children)
    state = [0] * count  # 0 unseen, 1 on the current path, 2 done
    cycles: list[list[int]] = []
    seen_cycles: set[tuple[int, ...]] = set()
    for start in range(count):
        if state[start]:
            continue
        path: list[int] = [start]
        on_path_at = {start: 0}
        state[start] = 1
        iterators = [iter(children[start])]
        while iterators:
            node = path[-1]
            child = next(iterators[-1], None)
            if child is None:
                state[node] = 2
                iterators.pop()
                path.pop()
                on_path_at.pop(node, None)
                continue
            if state[child] == 1:
                cycle = path[on_path_at[child] :]
                smallest = cycle.index(min(cycle))
                cycle = cycle[smallest:] + cycle[:smallest]
                key = tuple(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    cycles.append(cycle)
                    if len(cycles) >= MAX_CYCLES_REPORTED:
                        return cycles
            elif state[child] == 0:
                state[child] = 1
                on_path_at[child] = len(path)
                path.append(child)
                iterators.append(iter(children[child]))
    return cycles


def longest_path(graph: Graph, weights: Sequence[float]) -> tuple[float, list[int]]:
    """The heaviest path through an acyclic graph (sum of its steps' weights) and its steps,
    from the first to run to the last. Between paths of equal weight (steps without data weigh
    0) the one with more steps wins, then the one ending earlier in the definition."""
    if not graph.order:
        return 0.0, []
    count = len(weights)
    total = [0.0] * count
    length = [0] * count
    before = [-1] * count
    for node in graph.order:
        best = -1
        for parent in graph.parents[node]:
            if best == -1 or (total[parent], length[parent]) > (total[best], length[best]):
                best = parent
        if best == -1:
            total[node], length[node] = weights[node], 1
        else:
            total[node], length[node] = total[best] + weights[node], length[best] + 1
        before[node] = best
    end = max(range(count), key=lambda node: (total[node], length[node], -node))
    path = []
    node = end
    while node != -1:
        path.append(node)
        node = before[node]
    path.reverse()
    return total[end], path
