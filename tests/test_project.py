"""Project-level promises: documented settings, a complete error catalogue, OpenAPI."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable
from pathlib import Path

from audiostore.errors import CATALOGUE
from audiostore.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`(AUDIOSTORE_[A-Z0-9_]+)`", readme))
    missing = {f"AUDIOSTORE_{name.upper()}" for name in Settings.model_fields} - documented
    assert not missing, f"README's configuration table lacks {sorted(missing)}"


def _as_written(value: object) -> str:
    """A default as the README's table writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):  # a table setting, in its `name=value,...` form
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def test_readme_configuration_table_gives_every_real_default() -> None:
    """Each row's default is the field's own: a literal in backticks wherever the setting has
    a value by default (unset settings may describe what happens instead)."""
    rows = dict(
        re.findall(r"^\| `(AUDIOSTORE_[A-Z0-9_]+)` \| ([^|]+) \|", (ROOT / "README.md").read_text(), re.M)
    )
    wrong = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default in (None, [], {}):
            continue
        written = rows.get(f"AUDIOSTORE_{name.upper()}", "").strip()
        literal = written[1:-1].removeprefix("./") if written.startswith("`") and written.endswith("`") else None
        if literal != _as_written(default):
            wrong.append(f"AUDIOSTORE_{name.upper()}: README {written!r}, real `{_as_written(default)}`")
    assert not wrong, "\n".join(wrong)


def test_settings_are_grouped_by_concern() -> None:
    """Every setting belongs to exactly one group, and `Settings` is all the groups."""
    from audiostore.settings import GROUPS

    owners: dict[str, list[str]] = {}
    for group in GROUPS:
        for name in group.model_fields:
            owners.setdefault(name, []).append(group.__name__)
    assert set(owners) == set(Settings.model_fields)
    # data_dir is shared (storage and the catalogue both live in it); nothing else is.
    shared = {n: g for n, g in owners.items() if len(g) > 1}
    assert set(shared) <= {"data_dir"}, shared


def test_error_codes_are_unique_with_real_statuses() -> None:
    codes = [cls.code for cls in CATALOGUE.values()]
    assert len(codes) == len(set(codes))
    for cls in CATALOGUE.values():
        assert 400 <= cls.status <= 599
        assert cls.default_message


def test_readme_lists_every_client_facing_error_code() -> None:
    readme = (ROOT / "README.md").read_text()
    for code, cls in CATALOGUE.items():
        if cls.status < 500 or code in ("storage_unavailable",):
            assert f"`{code}`" in readme, code


def test_every_type_ignore_names_its_code_and_says_why() -> None:
    """mypy --strict runs in CI; what it is told to overlook is named and explained where it
    is overlooked: `# type: ignore[code]  # why`."""
    unexplained = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "type: ignore" in line
        and not re.search(r"# type: ignore\[[a-z-]+(, [a-z-]+)*\]  # \S", line)
    ]
    assert not unexplained, f"type: ignore without a code and a reason: {unexplained}"


def _mentions(hint: object, target: type) -> bool:
    """`hint` is `target`, or holds it (`Settings | None`, `list[Settings]`, ...)."""
    return hint is target or any(_mentions(arg, target) for arg in typing.get_args(hint))


def _callables_of(package: str) -> list[tuple[str, Callable[..., object]]]:
    """Every function and method defined in `package`'s modules, constructors included, by
    its dotted name."""
    found: list[tuple[str, Callable[..., object]]] = []
    modules = [importlib.import_module(package)] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")
    ]
    for module in modules:
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue  # imported here, checked where it is defined
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    function = getattr(member, "__func__", member)  # classmethod, staticmethod
                    if inspect.isfunction(function):
                        found.append((f"{module.__name__}.{name}.{attr}", function))
            elif inspect.isfunction(obj):
                found.append((f"{module.__name__}.{name}", obj))
    return found


def _whole_settings_params(function: Callable[..., object]) -> list[str]:
    try:
        hints = typing.get_type_hints(function)
    except NameError:  # it names a type imported only for type checkers: read the words
        return [param for param, written in function.__annotations__.items()
                if param != "return" and re.search(r"\bSettings\b", str(written))]
    return [param for param, hint in hints.items() if param != "return" and _mentions(hint, Settings)]


# Layers whose parts are handed settings by the composition root (runtime.py). `Runtime`
# itself, the CLI, doctor and the HTTP app read the whole `Settings`: they are above these.
SETTINGS_GROUP_LAYERS = ("audiostore.service", "audiostore.blobstores", "audiostore.jobs", "audiostore.tts")


def test_services_take_only_the_settings_groups_they_read() -> None:
    """A constructor (or any function) below the composition root that accepted the whole
    `Settings` would hide what it depends on; each takes its groups, or single values."""
    checked, whole = 0, []
    for package in SETTINGS_GROUP_LAYERS:
        for name, function in _callables_of(package):
            checked += 1
            whole += [f"{name}({param})" for param in _whole_settings_params(function)]
    assert checked > 200  # the walk found the layers' code
    assert not whole, f"these take the whole Settings, not their groups: {whole}"
