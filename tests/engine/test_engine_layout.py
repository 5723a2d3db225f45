"""The engine's modules import each other without a cycle (lazy imports inside
functions included): the task kinds import their base (engine.taskbase), never the
dispatcher or each other, and the run (engine.api) is imported by no phase module
(docs/engine.md, "How the code is laid out")."""
import ast
from pathlib import Path

import engine

ROOT = Path(engine.__file__).parent


def _imports() -> dict:
    mods = {p.stem: p for p in ROOT.glob("*.py") if p.stem != "__init__"}
    out = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    targets = [node.module] if node.module else [a.name for a in node.names]
                elif node.level == 0 and node.module and node.module.startswith("engine."):
                    targets = [node.module.split(".")[1]]
                else:
                    continue
                deps.update(t.split(".")[0] for t in targets)
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[1] for a in node.names
                            if a.name.startswith("engine.") and a.name.count(".") >= 1)
        out[name] = {d for d in deps if d in mods and d != name}
    return out


def _cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_engine_modules_import_no_cycle():
    graph = _imports()
    assert {"api", "task", "taskbase", "score", "chance", "ylineage", "merge"} <= set(graph)
    assert _cycles(graph) == []


def test_task_kinds_import_the_base_not_the_dispatcher():
    graph = _imports()
    for kind in ("score", "chance", "ylineage"):
        assert "taskbase" in graph[kind], kind
        assert "task" not in graph[kind], kind
    # only the command line imports the run (engine.worker: kinship worker start preloads it)
    assert not any("api" in deps for name, deps in graph.items() if name not in ("commands", "demo",
                                                                               "cli", "worker")), graph
