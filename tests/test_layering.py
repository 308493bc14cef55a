"""Dependencies point down: no module of `mobilebert_tf` imports from a tier above its own,
and none imports the test helpers (`mobilebert_tf.testing`). Read from the source with `ast`
(imports inside functions count too); nothing is imported, so this takes milliseconds."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "mobilebert_tf"

# Bottom to top: (top-level modules and packages of mobilebert_tf, why they sit there). A
# module may import from its own tier and the tiers below.
TIERS = [
    (("config", "errors", "fileio", "signature", "stored_config", "weights"),
     "base: settings, errors, file I/O, the TF-Hub input signature, the config stored with "
     "a checkpoint, weights by name"),
    (("data", "metrics"), "text to ids, records and scores: no model code"),
    (("layers",), "Keras building blocks of the encoder"),
    (("encoder",), "the one encoder network, built from layers"),
    (("models",), "task heads around the encoder"),
    (("summary", "convert"), "read built models: parameter tables; checkpoint import/export"),
    (("training",), "stages, trainer, loop and optimizer of any job"),
    (("distillation", "finetune"), "the trainers and steps of the two jobs, on training"),
    (("export",), "SavedModel/TFLite of trained models, calibrated on finetune's task data"),
    (("run",), "job configs and functions that wire data, models and trainers"),
    (("demo",), "the end-to-end demo pipeline, on everything above"),
    (("cli",), "console-script entry points: flags in, one call out"),
]
TEST_ONLY = "testing"  # helpers of tests/ only: importable by nothing in the package
TIER = {name: rank for rank, (names, _) in enumerate(TIERS) for name in names}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, source: str | None = None) -> set[str]:
    """Full names of the `mobilebert_tf` modules (or names) that `path` (or `source` as if it
    were at `path`) imports."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from pkg import name`: name may be a submodule; count it as one when it is.
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                sub = PACKAGE.parent / candidate.replace(".", "/")
                found.add(candidate if sub.is_dir() or sub.with_suffix(".py").exists() else base)
    return {name for name in found if name.split(".")[0] == "mobilebert_tf"}


def _part(name: str) -> str | None:
    """The tier entry of a module name: its first part below `mobilebert_tf`."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def _root_tier() -> int:
    """`from mobilebert_tf import X` of a re-exported name depends on what the package's
    `__init__` imports: the highest tier among them."""
    return max(TIER[_part(name)] for name in _imports(PACKAGE / "__init__.py"))


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_module_has_a_tier():
    parts = {_part(_module_name(p)) for p in _modules()} - {TEST_ONLY}
    assert sorted(parts - set(TIER)) == [], "add new modules to TIERS, with the reason"


def test_no_module_imports_from_a_tier_above_or_the_test_helpers():
    root = _root_tier()
    violations = []
    for path in _modules():
        module = _module_name(path)
        if _part(module) == TEST_ONLY:
            continue
        # A package's `__main__` (`python -m ...`) is an entry point, whatever package it is in.
        rank = TIER["cli"] if path.name == "__main__.py" else TIER[_part(module)]
        for name in sorted(_imports(path)):
            target = _part(name)
            if target == TEST_ONLY:
                violations.append(f"{module} imports the test helpers ({name})")
            elif (root if target is None else TIER[target]) > rank:
                violations.append(f"{module} imports {name}, from a higher tier")
    assert violations == []


def test_the_checker_sees_imports_from_above():
    """The rule can fail: a layers module importing `run` (relatively, inside a function) and
    the test helpers is seen doing both."""
    source = "def f():\n    from ..run import configs\n    from mobilebert_tf import testing\n"
    found = _imports(PACKAGE / "layers" / "probe.py", source)
    assert found == {"mobilebert_tf.run.configs", "mobilebert_tf.testing"}
    assert TIER["run"] > TIER["layers"]
