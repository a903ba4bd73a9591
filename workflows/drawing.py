"""The DAG drawn as SVG on the server (no script, no CDN): one column per generation, the
critical path in a stronger stroke. Generations are what Kahn's pass already gave the analysis,
so drawing needs no layout library."""

from __future__ import annotations

from html import escape

from workflows.dag import Graph

MAX_DRAWN_STEPS = 400
BOX_WIDTH, BOX_HEIGHT = 150, 34
COLUMN_GAP, ROW_GAP, MARGIN = 60, 16, 12


def dag_svg(*, graph: Graph, labels: list[str], critical_path: list[str]) -> str:
    """An SVG document of the graph, or a one-line note when it is too large to read drawn."""
    if len(graph.ids) > MAX_DRAWN_STEPS:
        return (
            f"<p>{len(graph.ids):,} steps: too many to draw "
            f"(at most {MAX_DRAWN_STEPS}); see the generations above.</p>"
        )
    position: dict[int, tuple[int, int]] = {}
    for column, generation in enumerate(graph.generations):
        for row, node in enumerate(generation):
            x = MARGIN + column * (BOX_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (BOX_HEIGHT + ROW_GAP)
            position[node] = (x, y)
    width = MARGIN * 2 + max(1, graph.depth) * (BOX_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(1, graph.width) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP
    critical = set(critical_path)
    critical_edges = set(zip(critical_path, critical_path[1:], strict=False))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-dag" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="workflow steps and their dependencies" font-family="sans-serif" '
        'font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        "</defs>",
    ]
    for node, parents in enumerate(graph.parents):
        x2, y2 = position[node]
        for parent in parents:
            x1, y1 = position[parent]
            is_critical = (graph.ids[parent], graph.ids[node]) in critical_edges
            stroke = ' stroke="#b00" stroke-width="2"' if is_critical else ' stroke="#555"'
            parts.append(
                f'<line x1="{x1 + BOX_WIDTH}" y1="{y1 + BOX_HEIGHT // 2}" x2="{x2}" '
                f'y2="{y2 + BOX_HEIGHT // 2}"{stroke} marker-end="url(#arrow)"/>'
            )
    for node, step_id in enumerate(graph.ids):
        x, y = position[node]
        stroke = "#b00" if step_id in critical else "#447"
        label = labels[node] if len(labels[node]) <= 22 else labels[node][:21] + "…"
        parts.append(
            f'<g class="step" data-step="{escape(step_id)}"><title>{escape(step_id)}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="5" '
            f'fill="#f4f6fb" stroke="{stroke}"/>'
            f'<text x="{x + 8}" y="{y + 14}" font-weight="bold">{escape(step_id[:22])}</text>'
            f'<text x="{x + 8}" y="{y + 28}" fill="#555">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
