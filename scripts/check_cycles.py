"""Fail when Charter's modules import each other in a cycle (make test runs this with import-linter).

import-linter's layers contract keeps the layers acyclic; this finds cycles anywhere, module by module,
counting every import (including those under TYPE_CHECKING: a cycle hidden from the interpreter is still a
cycle in the design). Prints each cycle and exits 1; prints the module count and exits 0 otherwise.
"""

from __future__ import annotations

import sys

import grimp


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def main() -> int:
    g = grimp.build_graph("charter", include_external_packages=False)
    modules = sorted(m for m in g.modules if ".migrations." not in m)
    graph = {m: {i for i in g.find_modules_directly_imported_by(m) if i in modules and i != m} for m in modules}
    # A package's __init__ importing its own submodules is not a design cycle; only module-to-module edges count.
    cycles = strongly_connected(graph)
    for component in cycles:
        print("import cycle:", " ↔ ".join(component))
        for a in component:
            for b in sorted(graph[a] & set(component)):
                line = g.get_import_details(importer=a, imported=b)
                where = f" (l.{line[0]['line_number']})" if line else ""
                print(f"    {a} -> {b}{where}")
    if cycles:
        print(f"{len(cycles)} import cycle(s)", file=sys.stderr)
        return 1
    print(f"no import cycles among {len(modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
