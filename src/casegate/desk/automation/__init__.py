"""Triggers, automations and macros: the desk acting on its cases by rules kept as data.

A trigger (:mod:`.rules`) names the events it listens to, conditions on the case and the
message, and ordered actions; the engine (:mod:`.engine`) runs the triggers of an event in
their order, and the events their own changes raise, up to :data:`.engine.MAX_DEPTH`. A
macro (:mod:`.macros`) is a named set of the same actions plus a reply an agent applies in
one step. An automation has no event: its conditions also count hours, and the worker's
clock runs the automations (:mod:`.scheduled`), each acting on a case once a period.
Triggers and automations are kept as ordered, versioned sets (:mod:`.rulesets`). The words
all of them use are in :mod:`.vocabulary`.
"""
