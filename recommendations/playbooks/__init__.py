"""The playbook registry: pure rules ``evaluate(picture, now, params) -> Finding | None``.

Adding a playbook touches one file: create ``recommendations/playbooks/<code>.py`` with an
``evaluate`` function and a module-level ``PLAYBOOK = register(Playbook(...))``; every module of this
package is imported when the registry is first read. Its defaults become editable in the admin
(``PlaybookConfig``) without a migration."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from recommendations.playbooks.base import Finding, PictureFacts

Params = Mapping[str, object]
Evaluate = Callable[[PictureFacts, dt.datetime, Params | None], Finding | None]
NextCheck = Callable[[PictureFacts, dt.datetime, Params | None], dt.datetime | None]
ExplainDrop = Callable[[PictureFacts, dt.datetime, Params | None], str]


@dataclass(frozen=True)
class Playbook:
    code: str
    label: str
    action_types: tuple[str, ...]
    evaluate: Evaluate
    defaults: Mapping[str, object] = field(default_factory=dict)
    # parameter → help text with an example, shown in the admin
    param_help: Mapping[str, str] = field(default_factory=dict)
    # earliest future instant at which this rule's answer may change with time alone
    next_check: NextCheck | None = None
    # a sentence naming why a previous finding no longer holds (for the withdrawn recommendation)
    explain_drop: ExplainDrop | None = None
    stated_reason: str = ""
    order: int = 100

    def params(self, overrides: Params | None = None) -> dict[str, object]:
        return {**self.defaults, **(overrides or {})}


_REGISTRY: dict[str, Playbook] = {}
_loaded = False


def register(playbook: Playbook) -> Playbook:
    if playbook.code in _REGISTRY and _REGISTRY[playbook.code] is not playbook:
        raise ValueError(f"playbook {playbook.code!r} is registered twice")
    _REGISTRY[playbook.code] = playbook
    return playbook


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    _loaded = True


def all_playbooks() -> list[Playbook]:
    """Every registered playbook, in a stable order."""
    _load()
    return sorted(_REGISTRY.values(), key=lambda p: (p.order, p.code))


def get_playbook(code: str) -> Playbook:
    _load()
    return _REGISTRY[code]


def playbook_for_action(action_type: str) -> Playbook | None:
    for playbook in all_playbooks():
        if action_type in playbook.action_types:
            return playbook
    return None
