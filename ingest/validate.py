"""The contract as a great-expectations suite, and the reasons each row of a chunk fails it.

A chunk is first validated with result_format BOOLEAN_ONLY (cheap); only the expectations that fail are run
again with COMPLETE results, to name the rows and values that broke them, by the same validator.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import pandas as pd

from ingest.contract import (
    CALL_FIELDS,
    FEEDBACK_FIELDS,
    FEEDBACK_VALUES,
    FIELDS,
    MAX_FUTURE_S,
    MIN_TS_EPOCH_S,
    Field,
)

Reasons = dict[int, list[str]]
GIVEN = "_given"  # a frame column <name>_given holds the text of <name> as given, for the reasons

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass(frozen=True)
class Rule:
    """One expectation of the suite and how to word a row that breaks it: ``message`` may use {value}."""

    expectation: Any
    column: str
    message: str

    def explain(self, value: Any, given: Any = None) -> str:
        """The reason recorded for a row whose value broke this rule; ``given``, the value's text as given when
        the typed value is not (a timestamp in epoch ms), is shown instead."""
        value = value.item() if hasattr(value, "item") else value
        shown = repr(value) if isinstance(value, str) else plain_number(value) if isinstance(value, float) else value
        if isinstance(given, str):
            shown = given
        return f"{self.column}: {self.message.format(value=shown)}"


def plain_number(value: float) -> str:
    """A number as written, never in exponent notation: 1000001.0 -> '1000001', 1e-10 -> '0.0000000001'."""
    if not math.isfinite(value):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _bounds(low: float | None, high: float | None) -> str:
    if high is None:
        return f"at least {plain_number(float(low or 0))}"
    return f"[{'' if low is None else plain_number(float(low))}, {plain_number(float(high))}]"


def what_it_takes(field: Field) -> str:
    """What a value of ``field`` must be, in the words of its reasons: 'one of [-1, 1]', 'a whole number in [1, 5]',
    'true/false or 1/0'."""
    if field.allowed is not None:
        return f"one of {list(field.allowed)}"
    if field.kind == "bool":
        return "true/false or 1/0"
    whole = "a whole number" if field.kind == "int" else "a number"
    if field.min_value is None and field.max_value is None:
        return whole
    return f"{whole} {'in ' if field.max_value is not None else ''}{_bounds(field.min_value, field.max_value)}"


def _rules_for(fields: Sequence[Field], now_s: float) -> list[Rule]:
    import great_expectations.expectations as gxe

    rules: list[Rule] = []
    expectation: Any
    for f in fields:
        if f.required:
            rules.append(Rule(gxe.ExpectColumnValuesToNotBeNull(column=f.name), f.name, "required"))
        if f.required and f.kind == "string":
            rules.append(Rule(gxe.ExpectColumnValuesToBeOfType(column=f.name, type_="str"), f.name, "not a string"))
            rules.append(
                Rule(gxe.ExpectColumnValueLengthsToBeBetween(column=f.name, min_value=1), f.name, "must not be empty")
            )
        if f.kind == "timestamp":
            low, high = MIN_TS_EPOCH_S * 1000, (now_s + MAX_FUTURE_S) * 1000
            expectation = gxe.ExpectColumnValuesToBeBetween(column=f.name, min_value=low, max_value=high)
            rules.append(Rule(expectation, f.name, "{value} is before 2000 or in the future"))
        if f.min_value is not None or f.max_value is not None:
            expectation = gxe.ExpectColumnValuesToBeBetween(column=f.name, min_value=f.min_value, max_value=f.max_value)
            rules.append(Rule(expectation, f.name, "{value} is outside " + _bounds(f.min_value, f.max_value)))
        if f.allowed is not None:
            allowed = list(f.allowed)
            expectation = gxe.ExpectColumnValuesToBeInSet(column=f.name, value_set=allowed)
            rules.append(Rule(expectation, f.name, "{value} is not one of " + str(allowed).replace("{", "{{")))
    return rules


def _feedback_rules(now_s: float) -> list[Rule]:
    """The feedback event's fields, and its value checked by the request contract's field of its kind."""
    import great_expectations.expectations as gxe

    rules = _rules_for(FEEDBACK_FIELDS, now_s)
    for kind, field in FEEDBACK_VALUES.items():
        when: dict[str, Any] = {"row_condition": f'kind=="{kind}"', "condition_parser": "pandas"}
        expectation: Any
        if field.allowed is not None:
            allowed = list(field.allowed)
            expectation = gxe.ExpectColumnValuesToBeInSet(column="value", value_set=allowed, **when)
            message = "{value} is not one of " + str(allowed) + f" for a {kind} event"
        elif field.min_value is not None or field.max_value is not None:
            expectation = gxe.ExpectColumnValuesToBeBetween(
                column="value", min_value=field.min_value, max_value=field.max_value, **when
            )
            message = "{value} is outside " + _bounds(field.min_value, field.max_value) + f" for a {kind} event"
        else:
            continue
        rules.append(Rule(expectation, "value", message))
    return rules


class ContractSuite:
    """A great-expectations suite built from contract fields, applied chunk by chunk."""

    def __init__(self, name: str, rules: list[Rule]) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = self._context.data_sources.add_pandas(f"{name}_source").add_dataframe_asset(f"{name}_chunk")
        self._batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
        self.rules = rules
        suite = gx.ExpectationSuite(name=name)
        for rule in rules:
            suite.add_expectation(rule.expectation)
        self.suite = self._context.suites.add(suite)
        self._lock = threading.Lock()  # one validation at a time: the context is not made for threads

    def failures(self, frame: pd.DataFrame) -> Reasons:
        """Reasons per row position (0-based) for every expectation the frame breaks."""
        reasons: Reasons = {}
        if frame.empty:
            return reasons
        with self._lock:
            return self._failures(frame.reset_index(drop=True))

    def _failures(self, frame: pd.DataFrame) -> Reasons:
        from great_expectations.validator.v1_validator import Validator

        reasons: Reasons = {}
        # One validator for both passes: it fetches (and fingerprints) the frame once.
        validator = Validator(self._batch_definition, "BOOLEAN_ONLY", {"dataframe": frame})
        summary = validator.validate_expectation_suite(self.suite)
        if summary.success:
            return reasons
        validator.result_format = {"result_format": "COMPLETE"}
        for rule, result in zip(self.suite.expectations, summary.results, strict=True):
            if result.success:
                continue
            detail = validator.validate_expectation(rule)
            found = self._rule_for(rule)
            indexes = detail.result.get("unexpected_index_list") or []
            values = detail.result.get("unexpected_list") or []
            given = frame.get(f"{found.column}{GIVEN}")
            for index, value in zip(indexes, values, strict=False):
                text = given.iloc[int(index)] if given is not None else None
                reasons.setdefault(int(index), []).append(found.explain(value, text))
        return reasons

    def _rule_for(self, expectation: Any) -> Rule:
        for rule in self.rules:
            if rule.expectation is expectation or rule.expectation.id == expectation.id:
                return rule
        raise LookupError(expectation)


_BUILD = threading.Lock()


def request_suite() -> ContractSuite:
    """The suite for canonical request records (built once per process)."""
    with _BUILD:
        return _request_suite()


def feedback_suite() -> ContractSuite:
    """The suite for feedback events."""
    with _BUILD:
        return _feedback_suite()


def call_suite() -> ContractSuite:
    """The suite for the per-call objects inside ``calls``."""
    with _BUILD:
        return _call_suite()


def warm_up(feedback: bool | None = False) -> threading.Thread:
    """Build the suites in the background (importing great-expectations takes seconds) while the engine works;
    ``feedback=None`` only imports great-expectations, for a caller that does not know its inputs yet."""

    def build() -> None:
        if feedback is None:
            import great_expectations.expectations  # noqa: F401
        elif feedback:
            feedback_suite()
        else:
            request_suite()
            call_suite()

    thread = threading.Thread(target=build, name="routewatch-suites", daemon=True)
    thread.start()
    return thread


@cache
def _request_suite() -> ContractSuite:
    return ContractSuite("requests", _rules_for(FIELDS, time.time()))


@cache
def _feedback_suite() -> ContractSuite:
    return ContractSuite("feedback", _feedback_rules(time.time()))


@cache
def _call_suite() -> ContractSuite:
    return ContractSuite("calls", _rules_for(CALL_FIELDS, time.time()))
