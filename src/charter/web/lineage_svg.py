"""The lineage graph as a server-drawn SVG: datasets and jobs in columns by their distance from the sources, edges
input dataset → job → output dataset. No script, readable without colour (shapes differ), every text escaped."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

COL_W, ROW_H, NODE_W, NODE_H, PAD = 230, 56, 200, 34, 16
DATASET_FILL, JOB_FILL, FOCUS_FILL, EDGE, TEXT = "#e8f0fe", "#fef3e2", "#ffd966", "#5f6b7a", "#1f2933"

Node = tuple[str, str, str]  # kind ("dataset" | "job"), namespace, name


def _layers(nodes: list[Node], parents: dict[Node, set[Node]]) -> dict[Node, int]:
    """Longest distance from a source (cycle-safe: a node on a cycle keeps the depth it had when first reached)."""
    depth: dict[Node, int] = {}
    visiting: set[Node] = set()

    def walk(node: Node) -> int:
        if node in depth:
            return depth[node]
        if node in visiting:
            return 0
        visiting.add(node)
        depth[node] = max((walk(p) + 1 for p in sorted(parents.get(node, ()))), default=0)
        visiting.discard(node)
        return depth[node]

    for node in nodes:
        walk(node)
    return depth


def _label(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def lineage_svg(graph: dict[str, Any], focus: tuple[str, str] | None = None) -> Markup:
    nodes: list[Node] = [("dataset", d["namespace"], d["name"]) for d in graph["datasets"]]
    nodes += [("job", j["namespace"], j["name"]) for j in graph["jobs"]]
    parents: dict[Node, set[Node]] = defaultdict(set)
    edges: list[tuple[Node, Node]] = []
    for e in graph["edges"]:
        dataset: Node = ("dataset", e["dataset"]["namespace"], e["dataset"]["name"])
        job: Node = ("job", e["job"]["namespace"], e["job"]["name"])
        source, target = (dataset, job) if e["direction"] == "input" else (job, dataset)
        parents[target].add(source)
        edges.append((source, target))
    if not nodes:
        return Markup("")
    depth = _layers(nodes, parents)
    columns: dict[int, list[Node]] = defaultdict(list)
    for node in sorted(nodes, key=lambda n: (depth[n], n[1], n[2])):
        columns[depth[node]].append(node)
    where: dict[Node, tuple[float, float]] = {}
    for col, members in columns.items():
        for row, node in enumerate(members):
            where[node] = (PAD + col * COL_W, PAD + row * ROW_H)
    width = PAD * 2 + (max(columns) + 1) * COL_W - (COL_W - NODE_W)
    height = PAD * 2 + max(len(m) for m in columns.values()) * ROW_H
    desc = f"{len(graph['datasets'])} datasets and {len(graph['jobs'])} jobs; arrows go from inputs to outputs"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" role="img" '
        'aria-labelledby="lineage-t lineage-d">',
        '<title id="lineage-t">Lineage graph</title>',
        f'<desc id="lineage-d">{escape(desc)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{EDGE}"/></marker></defs>',
    ]
    for source, target in edges:
        (x1, y1), (x2, y2) = where[source], where[target]
        parts.append(
            f'<line x1="{x1 + NODE_W:.0f}" y1="{y1 + NODE_H / 2:.0f}" x2="{x2:.0f}" y2="{y2 + NODE_H / 2:.0f}" '
            f'stroke="{EDGE}" stroke-width="1.3" marker-end="url(#arrow)"/>'
        )
    for node, (x, y) in where.items():
        kind, namespace, name = node
        focused = focus is not None and kind == "dataset" and (namespace, name) == focus
        fill = FOCUS_FILL if focused else (DATASET_FILL if kind == "dataset" else JOB_FILL)
        radius = 4 if kind == "dataset" else 17
        title = f"{kind}: {namespace}/{name}"
        stroke = ' stroke-width="2.5"' if focused else ""
        shape = (
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="{radius}" fill="{fill}" '
            f'stroke="{EDGE}"{stroke}/>'
        )
        text = (
            f'<text x="{x + NODE_W / 2}" y="{y + NODE_H / 2 + 4}" text-anchor="middle" font-size="12" '
            f'fill="{TEXT}">{escape(_label(name))}</text>'
        )
        body = f"<g><title>{escape(title)}</title>{shape}{text}</g>"
        if kind == "dataset":
            href = escape("/data/lineage?" + urlencode({"namespace": namespace, "name": name}))
            body = f'<a href="{href}">{body}</a>'
        parts.append(body)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text above is escaped)
