#!/usr/bin/env python3
"""Print the import cycles between the modules of a package (default: portal/), and exit 1 if there are any.

Usage: python3 tools/import_cycles.py [PACKAGE_DIR]
Reads the imports with ast (nothing is run); counts imports inside functions too, since they still tie modules.
tests/test_import_cycles.py runs the same check. (A copy of ../shared/tools/import_cycles.py, kept in the
repository so that a clean checkout can run it.)
"""
import ast
import os
import sys


def module_name(root, path):
    rel = os.path.relpath(path, os.path.dirname(root))[:-3].replace(os.sep, ".")
    return rel[:-9] if rel.endswith(".__init__") else rel


def graph(root):
    """{module: set of the package's modules it imports}, for every .py file under `root`."""
    modules = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                modules[module_name(root, path)] = path
    edges = {name: set() for name in modules}
    for name, path in modules.items():
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read(), path)
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not (modules[target].endswith("__init__.py") and name.startswith(target + ".")):
                    edges[name].add(target)
    return edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop(); on.discard(w); component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def describe(edges, found):
    """The cycles as text: each component, then every import that ties it together."""
    lines = []
    for component in found:
        inside = set(component)
        lines.append(f"cycle of {len(component)} modules:")
        for name in component:
            for target in sorted(edges[name] & inside):
                lines.append(f"  {name} -> {target}")
    return "\n".join(lines)


if __name__ == "__main__":
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "portal")
    edges = graph(root)
    found = cycles(edges)
    if found:
        print(describe(edges, found))
    print(f"{len(found)} import cycle(s) among {len(edges)} modules")
    sys.exit(1 if found else 0)
