"""Imports go one way. Every module of vnet is in a layer (the list in
vnet's package docstring), and imports only from its own layer or lower ones:
at the top of the module or inside a function alike, so that no lazy import
hides a cycle. Lazy imports stay where they save start-up time."""
import ast
import pathlib
import re

import vnet

SRC = pathlib.Path(vnet.__file__).parent


def layers():
    """name -> layer number, from the docstring's "N. name, name: what" lines."""
    out = {}
    for n, names in re.findall(r"^\s+(\d+)\. ([\w., ]+?):", vnet.__doc__, re.M):
        for name in names.split(", "):
            out[name] = int(n)
    return out


def modules():
    """Every module of the package: dotted name -> path."""
    out = {}
    for p in SRC.rglob("*.py"):
        parts = ("vnet",) + p.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def layer_of(module, table):
    """A listed name covers its submodules, the longest name winning;
    ``vnet`` itself is the package's own __init__."""
    if module == "vnet":
        return table.get("vnet")
    name = module[len("vnet."):]
    while name:
        if name in table:
            return table[name]
        name = name.rpartition(".")[0]
    return None


def imports(module, path, known):
    """(target module, line, lazy) of every vnet import in ``module``."""
    tree = ast.parse(path.read_text())
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []

    def walk(node, lazy):
        for ch in ast.iter_child_nodes(node):
            inner = lazy or isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(ch, ast.Import):
                out.extend((a.name, ch.lineno, lazy) for a in ch.names if a.name.split(".")[0] == "vnet")
            elif isinstance(ch, ast.ImportFrom):
                if ch.level:
                    base = pkg.split(".")[:len(pkg.split(".")) - ch.level + 1]
                    target = ".".join(base + ([ch.module] if ch.module else []))
                else:
                    target = ch.module or ""
                if target.split(".")[0] == "vnet":
                    for a in ch.names:   # `from vnet.kernel import rtnl` imports the module vnet.kernel.rtnl
                        sub = f"{target}.{a.name}"
                        out.append((sub if sub in known else target, ch.lineno, lazy))
            walk(ch, inner)

    walk(tree, False)
    return out


def test_every_module_is_in_a_layer():
    table = layers()
    assert table, "vnet's docstring lists no layers"
    assert [m for m in sorted(modules()) if layer_of(m, table) is None] == []


def test_imports_go_to_the_same_layer_or_lower():
    table, mods = layers(), modules()
    upward = []
    for m, path in sorted(mods.items()):
        for target, line, lazy in imports(m, path, mods):
            if layer_of(target, table) > layer_of(m, table):
                upward.append(f"{path.relative_to(SRC.parent)}:{line}: {m} (layer {layer_of(m, table)}) imports "
                              f"{target} (layer {layer_of(target, table)}){' inside a function' if lazy else ''}")
    assert upward == []


def test_no_modules_import_each_other():
    """No cycle, counting imports inside functions (a cycle broken by a lazy
    import is still one). The API's Lab is the one pair: vnet.Lab is
    imported on first use, and the Lab calls vnet.load, apply and destroy."""
    mods = modules()
    graph = {m: {t for t, _l, _z in imports(m, p, mods) if t != m} for m, p in mods.items()}
    cycles = []
    for m in sorted(graph):
        seen, stack = set(), [(m, (m,))]
        while stack:
            at, trail = stack.pop()
            for t in graph.get(at, ()):
                if t == m:
                    cycles.append(" -> ".join(trail + (m,)))
                elif t not in seen and t > m:   # each cycle once, from its smallest module
                    seen.add(t)
                    stack.append((t, trail + (t,)))
    assert cycles == []


def test_no_module_shadows_a_function_of_the_api():
    """Importing vnet.X sets the attribute X of vnet: a module named plan,
    apply or destroy would replace the function once imported."""
    api = {n for n, v in vars(vnet).items() if callable(v) and not n.startswith("_")}
    assert sorted(api & {m.split(".")[1] for m in modules() if m.count(".") >= 1}) == []
