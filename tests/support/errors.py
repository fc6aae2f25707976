"""The bank's refusals, as the code defines them."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import rongbank
from rongbank.errors import DomainError


@cache
def domain_errors() -> tuple[type[DomainError], ...]:
    """Every :class:`DomainError` subclass in the package (each module imported)."""
    for module in pkgutil.walk_packages(rongbank.__path__, "rongbank."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[DomainError]] = []
    todo = [DomainError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo += kind.__subclasses__()
    return tuple(found)


@cache
def domain_error_codes() -> frozenset[str]:
    """The ``code`` of every :class:`DomainError` subclass in the package (each module
    imported, so none is missed for not having been loaded yet)."""
    for module in pkgutil.walk_packages(rongbank.__path__, "rongbank."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: set[str] = set()
    todo = [DomainError]
    while todo:
        kind = todo.pop()
        found.add(kind.code)
        todo += kind.__subclasses__()
    return frozenset(found)
