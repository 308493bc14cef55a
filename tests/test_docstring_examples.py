"""The `>>>` examples in docstrings call only what exists: every function or class an example
calls is defined by the example itself (an assignment or an import whose name the imported
module really defines), by its module, or is a builtin. Read with `ast`; nothing is run."""

import ast
import builtins
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mobilebert_tf"


def _top_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            # `__all__` names a package's lazily imported names (PEP 562 `__getattr__`).
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                names.update(ast.literal_eval(node.value))
    return names


def _module_names(module: str) -> set[str] | None:
    """Top-level names of a `mobilebert_tf` module (None: not one of ours, not checked)."""
    path = ROOT / module.replace(".", "/")
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    if module.split(".")[0] != "mobilebert_tf":
        return None
    assert path.exists(), f"no module {module}"
    return _top_level_names(ast.parse(path.read_text()))


def _examples(docstring: str) -> list[str]:
    """The statements of `>>>` lines, each with its `...` continuation lines."""
    statements = []
    for line in docstring.splitlines():
        text = line.strip()
        if text.startswith(">>> "):
            statements.append(text[4:])
        elif statements and (text.startswith("... ") or text == "..."):
            statements[-1] += "\n" + text[4:]
    return statements


def _unresolved(statements: list[str], module_names: set[str]) -> list[str]:
    known = set(module_names)
    missing = []
    for statement in statements:
        tree = ast.parse(statement)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                exported = _module_names(node.module)
                for alias in node.names:
                    if exported is not None and alias.name not in exported:
                        missing.append(f"{node.module}.{alias.name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                while isinstance(func, ast.Attribute):
                    func = func.value
                if (isinstance(func, ast.Name) and func.id not in known
                        and not hasattr(builtins, func.id)):
                    missing.append(func.id)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                known.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                known.update((a.asname or a.name).split(".")[0] for a in node.names)
    return missing


def test_docstring_examples_call_what_exists():
    problems, count = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        names = _top_level_names(tree)
        for node in [tree, *ast.walk(tree)]:
            if not isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)):
                continue
            statements = _examples(ast.get_docstring(node) or "")
            count += bool(statements)
            for name in _unresolved(statements, names):
                problems.append(f"{path.relative_to(ROOT)} ({getattr(node, 'name', 'module')})"
                                f": {name}")
    assert count >= 10  # the examples were found
    assert problems == []


def test_a_missing_name_is_reported():
    assert _unresolved(["x = schedule_for(stages)"], set()) == ["schedule_for"]
    assert _unresolved(["from mobilebert_tf.training.optimizer import trainer_schedule"],
                       set()) == ["mobilebert_tf.training.optimizer.trainer_schedule"]
    assert _unresolved(["import tensorflow as tf", "y = tf.ones([2])"], set()) == []
