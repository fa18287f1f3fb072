"""autodiff figures from metrics only: each graph drawn by depth with its nodes' numbers; the Jacobian cost bars."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as ArrowPath

from experiments.autodiff.cost import passes
from experiments.autodiff.graph import Graph, depths, expression, y_graph, z_graph
from nndl.run.plotting import save_figure, subplots

# Layout in data units: column pitch, box width, text line height, vertical gap between items.
DX, BOX_W, LINE_H, GAP = 2.7, 2.2, 0.27, 0.35
LANE_H = 0.15  # height reserved for an edge passing through a column


class Layout(NamedTuple):
    """Box centres, and for each edge spanning several columns its height in every column it crosses."""

    pos: dict[str, tuple[float, float]]
    lanes: dict[tuple[str, str], list[tuple[float, float]]]


def box_height(graph: Graph) -> float:
    """Height of a box holding the definition, the value, one tangent per input and the adjoint."""
    return LINE_H * (3 + len(graph.inputs)) + 0.3


def columns(graph: Graph) -> dict[str, int]:
    """Column of each node: its depth, except that a leaf sits just left of its first consumer
    (the constant 1 next to the sum that uses it, not far left with the inputs)."""
    depth = depths(graph)
    children = graph.children()
    return {name: (min(depth[c] for c in children[name]) - 1 if d == 0 and children[name] else d)
            for name, d in depth.items()}


def layout(graph: Graph, *, iterations: int = 80) -> Layout:
    """Layered layout: x by column; an edge spanning columns gets a lane (a dummy item) in each column
    it crosses, so boxes make room for it; heights relax towards the mean of the neighbours' heights,
    keeping items of one column apart."""
    column = columns(graph)
    half = {name: box_height(graph) / 2 for name in column}
    links: dict[str, list[str]] = {name: [] for name in column}
    chains = {}
    for node in graph.nodes:
        for parent in dict.fromkeys(node.parents):
            chain = [parent]
            for k in range(column[parent] + 1, column[node.name]):
                lane = f"{parent}->{node.name}@{k}"
                column[lane], half[lane], links[lane] = k, LANE_H / 2, []
                chain.append(lane)
            chain.append(node.name)
            for u, v in itertools.pairwise(chain):
                links[u].append(v)
                links[v].append(u)
            chains[parent, node.name] = chain[1:-1]
    members: dict[int, list[str]] = {}
    for item in column:
        members.setdefault(column[item], []).append(item)
    y = {item: -2.0 * half[item] * members[column[item]].index(item) for item in column}
    for _ in range(iterations):
        # Damped averaging: each item moves half way to the mean height of its neighbours ...
        y = {item: 0.5 * y[item] + 0.5 * float(np.mean([y[v] for v in links[item]])) if links[item] else y[item]
             for item in y}
        for items in members.values():
            # ... then each column is spread top-down to keep its items apart, around its mean.
            ordered = sorted(items, key=lambda item: -y[item])
            mean = float(np.mean([y[item] for item in items]))
            for above, below in itertools.pairwise(ordered):
                y[below] = min(y[below], y[above] - half[above] - half[below] - GAP)
            shift = mean - float(np.mean([y[item] for item in items]))
            for item in items:
                y[item] += shift
    top = max(y[name] + half[name] for name in graph.inputs)
    pos = {node.name: (column[node.name] * DX, y[node.name] - top) for node in graph.nodes}
    lanes = {edge: [(column[lane] * DX, y[lane] - top) for lane in chain] for edge, chain in chains.items()}
    return Layout(pos, lanes)


def draw_graph(ax, graph: Graph, nodes: dict[str, dict[str, float]], *, title: str) -> None:
    """Draws the graph on `ax`: one box per node with its definition and its numbers.

    Args:
      ax: matplotlib axes.
      graph: the graph.
      nodes: {node: {"value", "tangent_<input>"..., "adjoint"}}, as in metrics.json.
      title: axes title.
    """
    pos, lanes = layout(graph)
    height = box_height(graph)
    tangent_keys = [k for k in next(iter(nodes.values())) if k.startswith("tangent_")]
    for node in graph.nodes:
        cx, cy = pos[node.name]
        row = nodes[node.name]
        lines = [expression(node), f"val  {row['value']:.5g}"]
        lines += [f"d/d{k.removeprefix('tangent_')}  {row[k]:.5g}" for k in tangent_keys]
        lines.append(f"adj  {row['adjoint']:.5g}")
        leaf = not node.parents
        ax.add_patch(FancyBboxPatch((cx - BOX_W / 2, cy - height / 2), BOX_W, height,
                                    boxstyle="round,pad=0.02,rounding_size=0.12",
                                    facecolor="#e8f0fe" if leaf else "#fff7e0",
                                    edgecolor="#35669e" if node.name != graph.output else "#b03a2e",
                                    linewidth=1.6 if node.name == graph.output else 1.0))
        ax.text(cx, cy + height / 2 - 0.1, lines[0], ha="center", va="top", fontsize=8.5, fontweight="bold")
        ax.text(cx, cy + height / 2 - 0.1 - 1.3 * LINE_H, "\n".join(lines[1:]), ha="center", va="top",
                fontsize=7.5, family="monospace", linespacing=1.25)
        for parent in dict.fromkeys(node.parents):  # an edge once even if used twice (u·u)
            # Through the edge's lanes: straight across each column it crosses, diagonal in between.
            px, py = pos[parent]
            points = [(px + BOX_W / 2, py)]
            for lx, ly in lanes[parent, node.name]:
                points += [(lx - BOX_W / 2, ly), (lx + BOX_W / 2, ly)]
            points.append((cx - BOX_W / 2, cy))
            ax.add_patch(FancyArrowPatch(path=ArrowPath(points), arrowstyle="-|>", mutation_scale=11,
                                         color="#555555", linewidth=1.0))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - BOX_W / 2 - 0.2, max(xs) + BOX_W / 2 + 0.2)
    ax.set_ylim(min(ys) - height / 2 - 0.3, max(ys) + height / 2 + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def graph_figure(graph: Graph, nodes: dict[str, dict[str, float]], *, title: str):
    """A figure with the drawn graph, sized to it, and a caption explaining val / d/d<input> / adj."""
    pos = layout(graph).pos
    span_x = max(p[0] for p in pos.values()) - min(p[0] for p in pos.values()) + BOX_W + 0.4
    span_y = max(p[1] for p in pos.values()) - min(p[1] for p in pos.values()) + box_height(graph) + 0.9
    inches_per_unit = 0.5  # keeps the 7.5 pt box text inside 2.2-unit-wide boxes
    fig, axes = subplots(1, 1, width=span_x * inches_per_unit, height=span_y * inches_per_unit + 0.5)
    draw_graph(axes[0, 0], graph, nodes, title=title)
    tangents = ", ".join(f"d/d{name}" for name in graph.inputs)
    fig.text(0.5, 0.0, f"val: node value.   {tangents}: forward-mode tangent d(node)/d(input), swept input to output.\n"
             f"adj: reverse-mode adjoint d{graph.output}/d(node), swept output to input.",
             ha="center", va="top", fontsize=8)
    return fig


def cost_figure(rows: list[dict]):
    """Bars of jacfwd vs jacrev seconds per (n, m) case on a log axis, labelled with the pass counts."""
    fig, axes = subplots(1, 1, width=6.4, height=4.0)
    ax = axes[0, 0]
    where = np.arange(len(rows))
    for offset, method, count, kind, color in ((-0.2, "jacfwd", "jvp_passes", "jvp", "#4c72b0"),
                                               (0.2, "jacrev", "vjp_passes", "vjp", "#dd8452")):
        seconds = [r[f"{method}_s"] * 1e3 for r in rows]
        what = "forward: n jvps" if method == "jacfwd" else "reverse: m vjps"
        bars = ax.bar(where + offset, seconds, width=0.38, color=color, label=f"{method} ({what})")
        for bar, row in zip(bars, rows):
            ax.annotate(passes(row[count], kind), (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7.5)
    ax.set_yscale("log")
    ax.set_xticks(where, [f"n={r['n']}, m={r['m']}" for r in rows])
    ax.set_ylabel("median time per Jacobian [ms]")
    ax.set_xlabel(r"$f: \mathbb{R}^n \to \mathbb{R}^m$")
    ax.set_title("Jacobian by forward vs reverse mode (after compilation)", fontsize=10)
    top = max(max(r["jacfwd_s"], r["jacrev_s"]) for r in rows) * 1e3
    ax.set_ylim(top=top * 6)  # room for the pass labels and the legend above the bars
    ax.legend(loc="upper center", ncols=2, fontsize=8, frameon=False)
    return fig


def plot(metrics: dict, out: Path) -> None:
    """graph_y.png and graph_z.png (each node's value, tangents and adjoint) and jacobian_cost.png."""
    for graph, part in ((y_graph(), metrics["y"]), (z_graph(), metrics["z"])):
        point = ", ".join(f"{name} = {float(part[name]):g}" for name in graph.inputs)
        save_figure(graph_figure(graph, part["nodes"], title=f"{graph.output}: forward and reverse sweeps at {point}"),
                    out / f"graph_{graph.output}.png")
    save_figure(cost_figure(metrics["jacobian_cost"]), out / "jacobian_cost.png")
