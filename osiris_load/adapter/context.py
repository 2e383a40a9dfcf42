"""What the Osiris parts share inside one Locust run, declared in one place.

Locust declares what a run's parts share: its events in ``locust/event.py`` (one typed hook each,
with a docstring) and its ``Environment``'s fields in ``locust/env.py``. The Osiris parts (the SLO
gate, the open model, the stages shape, the users, the progress lines, the web UI) share a few
objects of their own; they are declared here, as the fields of :class:`RunContext`, instead of
attributes stuck on Locust's ``Environment`` (which no import shows and no type checker sees).

:func:`context_of` gives an environment's context. It lives in a ``WeakKeyDictionary`` keyed by the
environment, so it goes when the environment goes (tests make many) and Locust's object is left as
Locust made it. Every field is ``None`` until its owner sets it at Locust's ``init``; a reader
that finds ``None`` behaves as without that part (a closed model, no gate, no hold).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:  # pragma: no cover - the types of the fields only; the owners import this module
    from osiris_load.adapter.gate.core import Gate
    from osiris_load.adapter.open_model import OpenModelRun
    from osiris_load.adapter.webui import SloWebUi

__all__ = ["RunContext", "context_of"]

T = TypeVar("T")


class Part(Generic[T]):
    """A declared field of :class:`RunContext`, held by weak reference.

    Each part is kept alive by its owner's listeners on the environment's own events (and the web
    UI's routes), that is, exactly as long as the environment. The context must not keep it
    longer: every part refers to its environment, and a ``WeakKeyDictionary`` whose values refer
    to their keys never lets them go."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}_ref"

    @overload
    def __get__(self, context: None, owner: type | None = None) -> Part[T]: ...
    @overload
    def __get__(self, context: RunContext, owner: type | None = None) -> T | None: ...
    def __get__(self, context: RunContext | None, owner: type | None = None) -> Part[T] | T | None:
        if context is None:
            return self
        ref = context.__dict__.get(self.slot)
        return ref() if ref is not None else None

    def __set__(self, context: RunContext, part: T | None) -> None:
        context.__dict__[self.slot] = weakref.ref(part) if part is not None else None


class RunContext:
    """The Osiris parts of one Locust run (one ``Environment``), each set by its owner at ``init``."""

    gate: Part[Gate] = Part()
    """The SLO gate of this process (``osiris_load.adapter.gate``): its recorders, its latest verdict.
    Set by the gate's ``init`` listener; read by ``OsirisUser`` (iteration times), the progress lines
    and the web UI."""

    open_model: Part[OpenModelRun] = Part()
    """The open model of this process (``osiris_load.adapter.open_model.install``); its ``active`` says
    whether this run is open (a rate) or closed. Read by the users, the gate and the stages shape."""

    hold_steady: Part[Callable[[], bool]] = Part()
    """Asked by the stages shape at the end of its last non-zero stage: keep it going? The gate's
    ``--slo-until-settled`` sets it (``osiris_load.adapter.gate.hold.HoldSteady``, kept by the gate)."""

    web_ui: Part[SloWebUi] = Part()
    """The gate's face in Locust's web UI (``osiris_load.adapter.webui.attach``), where one runs."""

    def active_open_model(self) -> OpenModelRun | None:
        """The open model when this run is open (a rate was given), else ``None`` (the closed model)."""
        run = self.open_model
        return run if run is not None and run.active else None


_CONTEXTS: weakref.WeakKeyDictionary[Any, RunContext] = weakref.WeakKeyDictionary()
_STAND_INS: dict[int, tuple[Any, RunContext]] = {}  # stand-ins that cannot be weakly keyed (a SimpleNamespace)


def context_of(environment: Any) -> RunContext:
    """The :class:`RunContext` of ``environment`` (a Locust ``Environment``), made empty on first use.

    A stand-in environment that cannot be weakly referenced (a test's ``SimpleNamespace``) gets
    one too, kept (with the stand-in, so its id is not reused) for the life of the process."""
    try:
        context = _CONTEXTS.get(environment)
        if context is None:
            context = _CONTEXTS[environment] = RunContext()
        return context
    except TypeError:  # unhashable or not weakly referenceable
        kept = _STAND_INS.get(id(environment))
        if kept is None:
            kept = _STAND_INS[id(environment)] = (environment, RunContext())
        return kept[1]
