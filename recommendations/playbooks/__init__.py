"""The playbook registry: pure rules ``evaluate(facts, now, params) -> Finding | None``.

A playbook is one file. ``recommendations/playbooks/<code>.py`` holds its rule and a module-level
``PLAYBOOK = register(Playbook(...))`` that declares everything the rest of the engine asks of it:
the action types it proposes (name, draft templates, who receives them), where its finding stands in
an account's story, what its sent actions are called in the track record, and the page paths it
reads. Every module of this package is imported when the registry is first read; the model's
``action_type`` choices come from here (a new action type needs no migration), and a playbook's
defaults become editable in the admin (``PlaybookConfig``)."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from recommendations.playbooks.base import Finding, PictureFacts

Params = Mapping[str, object]
Evaluate = Callable[[PictureFacts, dt.datetime, Params | None], Finding | None]
NextCheck = Callable[[PictureFacts, dt.datetime, Params | None], dt.datetime | None]
ExplainDrop = Callable[[PictureFacts, dt.datetime, Params | None], str]
PagePaths = Callable[[Params], Sequence[str]]

#: Where a finding stands in an account's story when its playbook does not say (after all that do).
LAST_IN_STORY = 9
#: What a playbook's sent actions are called when it does not say.
SIMILAR_ACTIONS = "similar actions"


@dataclass(frozen=True)
class Action:
    """One kind of thing salesai proposes: an action type, which is also a trust domain (DESIGN.md §3).

    Its draft comes from ``template``, a template file whose ``subject`` and ``body`` partials are
    rendered apart (nothing in the body can become the subject), or from ``subject`` and ``body``
    given here as template source."""

    code: str
    label: str
    template: str = ""
    subject: str = ""
    body: str = ""
    #: executing it tells people inside the company (the account's owner) instead of e-mailing the customer
    internal: bool = False
    #: that notice goes to the managers, the owner in copy
    escalate: bool = False
    #: the owner hears of a new one at once, whatever its priority
    urgent: bool = False
    #: it answers a message the contact wrote: a one-to-one e-mail, which the outreach caps do not hold
    #: while a person decides on it (``OutreachPolicy.answers_exempt``)
    answers: bool = False

    def __post_init__(self) -> None:
        if bool(self.template) == bool(self.subject or self.body):
            raise ValueError(f"action {self.code!r}: give either a template file or an inline subject and body")


@dataclass(frozen=True)
class Playbook:
    code: str
    label: str
    actions: tuple[Action, ...]
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
    # where its finding stands in the account's story told by another playbook's recommendation (lower first)
    story_order: int = LAST_IN_STORY
    # what its sent actions are called in "7 of 12 <noun> sent from salesai … got a reply"
    history_noun: str = SIMILAR_ACTIONS
    # the page views it reads: a view counts when its path or URL contains one of these (given the params)
    page_paths: PagePaths | None = None

    @property
    def action_types(self) -> tuple[str, ...]:
        return tuple(action.code for action in self.actions)

    def params(self, overrides: Params | None = None) -> dict[str, object]:
        return {**self.defaults, **(overrides or {})}

    def paths(self, overrides: Params | None = None) -> tuple[str, ...]:
        """The page paths it reads with these parameters, case-folded (none when it reads no pages)."""
        if self.page_paths is None:
            return ()
        return tuple(str(path).lower() for path in self.page_paths(self.params(overrides)) or ())


_REGISTRY: dict[str, Playbook] = {}
_ACTIONS: dict[str, tuple[Action, Playbook]] = {}
_CHOICES: tuple[tuple[str, str], ...] | None = None  # action_type_choices(), until the registry changes
_loaded = False


def register(playbook: Playbook) -> Playbook:
    """Add ``playbook`` to the registry (a module of this package, or a plugin or test elsewhere)."""
    if _REGISTRY.get(playbook.code, playbook) is not playbook:
        raise ValueError(f"playbook {playbook.code!r} is registered twice")
    for action in playbook.actions:
        owner = _ACTIONS.get(action.code, (action, playbook))[1]
        if owner is not playbook:
            raise ValueError(f"action type {action.code!r} is proposed by playbook {owner.code!r} already")
    global _CHOICES
    _REGISTRY[playbook.code] = playbook
    _ACTIONS.update({action.code: (action, playbook) for action in playbook.actions})
    _CHOICES = None
    return playbook


def unregister(playbook: Playbook) -> None:
    """Take ``playbook`` out again (a test's toy playbook, a plugin being unloaded)."""
    global _CHOICES
    if _REGISTRY.get(playbook.code) is playbook:
        del _REGISTRY[playbook.code]
        for action in playbook.actions:
            _ACTIONS.pop(action.code, None)
        _CHOICES = None


def _modules() -> list[str]:
    return [f"{__name__}.{module.name}" for module in pkgutil.iter_modules(__path__) if module.name != "base"]


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for name in _modules():
        importlib.import_module(name)
    _loaded = True


def all_playbooks() -> list[Playbook]:
    """Every registered playbook, in a stable order."""
    _load()
    return sorted(_REGISTRY.values(), key=lambda p: (p.order, p.code))


def shipped_playbooks() -> list[Playbook]:
    """The playbooks that come with salesai (this package's modules), whatever else registered."""
    _load()
    shipped = [importlib.import_module(name).PLAYBOOK for name in _modules()]
    return sorted(shipped, key=lambda p: (p.order, p.code))


def get_playbook(code: str) -> Playbook:
    _load()
    return _REGISTRY[code]


def find_playbook(code: str) -> Playbook | None:
    """The registered playbook ``code``, or None (a stored recommendation may outlive its playbook)."""
    _load()
    return _REGISTRY.get(code)


def playbook_for_action(action_type: str) -> Playbook | None:
    _load()
    return _ACTIONS[action_type][1] if action_type in _ACTIONS else None


def action_for(action_type: str) -> Action | None:
    _load()
    return _ACTIONS[action_type][0] if action_type in _ACTIONS else None


def action_type_choices() -> tuple[tuple[str, str], ...]:
    """(code, label) of every registered action type: the ``choices`` of ``Recommendation.action_type``,
    read when asked, so a playbook registered later is a valid choice without a migration. Kept until
    the registry changes: every ``get_action_type_display()`` of an inbox card asks for it."""
    global _CHOICES
    if _CHOICES is None:
        _CHOICES = tuple((a.code, a.label) for playbook in all_playbooks() for a in playbook.actions)
    return _CHOICES


def story_order(code: str) -> int:
    """Where the finding of playbook ``code`` stands in an account's story."""
    playbook = find_playbook(code)
    return playbook.story_order if playbook else LAST_IN_STORY


def history_noun(code: str) -> str:
    """What the sent actions of playbook ``code`` are called in its track record."""
    playbook = find_playbook(code)
    return playbook.history_noun if playbook else SIMILAR_ACTIONS
