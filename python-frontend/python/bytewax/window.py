"""Clock and window configurations for the windowing operators.

A clock config says how the time of each item is found and when windows may
close (`SystemClockConfig`: wall-clock time; `EventClockConfig`: a time read
from each item). A window config says how time is cut into windows
(`TumblingWindow`, `SlidingWindow`, `SessionWindow`). Pass one of each to
`Dataflow.reduce_window`, `fold_window` or `collect_window`.

Configs are immutable values: they compare equal when their settings are
equal and can be pickled.
"""

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Tuple

__all__ = [
    "ClockConfig",
    "EventClockConfig",
    "SessionWindow",
    "SlidingWindow",
    "SystemClockConfig",
    "TumblingWindow",
    "WindowConfig",
]

# The engine computes window boundaries in whole milliseconds, so a shorter
# length, offset or gap would collapse to zero there.
_SMALLEST_SPAN = timedelta(milliseconds=1)


class _SettingsConfig:
    """Value-object behaviour shared by all config classes (also used by `bytewax.recovery`).

    A subclass lists its setting names in `_FIELDS`; those become read-only
    attributes, the pickled state and the basis of `==`, `hash` and `repr`.
    """

    _FIELDS: Tuple[str, ...] = ()

    def _set_fields(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._FIELDS:
            raise AttributeError(
                f"attribute '{name}' of '{type(self).__name__}' objects is not writable"
            )
        object.__setattr__(self, name, value)

    def __getstate__(self) -> Dict[str, Any]:
        state = {"type": type(self).__name__}
        for name in self._FIELDS:
            state[name] = getattr(self, name)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        missing = [name for name in self._FIELDS if name not in state]
        if missing:
            raise ValueError(f"bad pickle contents for {missing[0]}: {state!r}")
        self._set_fields(**{name: state[name] for name in self._FIELDS})

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        values = tuple(getattr(self, name) for name in self._FIELDS)
        # Lists (Kafka brokers) are settings too; hash them as tuples.
        values = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        return hash((type(self), values))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__name__}({args})"


def _expect_callable(arg: str, value: Any) -> Any:
    if not callable(value):
        raise TypeError(f"argument '{arg}': '{type(value).__name__}' object is not callable")
    return value


def _expect_timedelta(arg: str, value: Any) -> timedelta:
    if not isinstance(value, timedelta):
        raise TypeError(
            f"argument '{arg}': '{type(value).__name__}' object cannot be converted to 'timedelta'"
        )
    return value


def _expect_span(arg: str, value: Any) -> timedelta:
    _expect_timedelta(arg, value)
    if value < _SMALLEST_SPAN:
        raise ValueError(f"argument '{arg}': must be at least 1 millisecond; got {value!r}")
    return value


def _expect_utc_datetime(arg: str, value: Any) -> datetime:
    """Return `value` as a UTC datetime; naive datetimes are refused as ambiguous."""
    if not isinstance(value, datetime):
        raise TypeError(
            f"argument '{arg}': '{type(value).__name__}' object cannot be converted to 'datetime'"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError(
            f"argument '{arg}': Not datetime.timezone.utc; "
            "give a timezone-aware datetime, e.g. datetime(2023, 1, 1, tzinfo=timezone.utc)"
        )
    return value.astimezone(timezone.utc)


class ClockConfig(_SettingsConfig):
    """Base class of clock configurations; use one of its subclasses."""


class SystemClockConfig(ClockConfig):
    """Clock using the wall-clock time at which each item is processed.

    Windows close as real time passes; at the end of input every open window
    closes.
    """


class EventClockConfig(ClockConfig):
    """Clock using a timestamp read from each item.

    `dt_getter(value)` must return a timezone-aware UTC `datetime` for the
    value of each `(key, value)` item. The watermark is the newest timestamp
    seen minus `wait_for_system_duration`, advancing with wall-clock time
    since that item was seen. Items older than the watermark are late and
    dropped.
    """

    _FIELDS = ("dt_getter", "wait_for_system_duration")

    def __init__(self, dt_getter: Callable[[Any], datetime], wait_for_system_duration: timedelta):
        self._set_fields(
            dt_getter=_expect_callable("dt_getter", dt_getter),
            wait_for_system_duration=_expect_timedelta(
                "wait_for_system_duration", wait_for_system_duration
            ),
        )


class WindowConfig(_SettingsConfig):
    """Base class of window configurations; use one of its subclasses."""


class TumblingWindow(WindowConfig):
    """Back-to-back windows of fixed `length`, anchored at `align_to`.

    Windows are `[align_to + k*length, align_to + (k+1)*length)` for every
    integer `k`, including windows before `align_to`. `align_to` must be
    timezone-aware and be the same on every run, since it identifies windows
    on recovery; it is stored converted to UTC.
    """

    _FIELDS = ("length", "align_to")

    def __init__(self, length: timedelta, align_to: datetime):
        self._set_fields(
            length=_expect_span("length", length),
            align_to=_expect_utc_datetime("align_to", align_to),
        )


class SlidingWindow(WindowConfig):
    """Windows of fixed `length` starting every `offset`, anchored at `align_to`.

    With `offset < length` windows overlap and an item falls in several of
    them; with `offset > length` there are gaps where items fall in none.
    """

    _FIELDS = ("length", "offset", "align_to")

    def __init__(self, length: timedelta, offset: timedelta, align_to: datetime):
        self._set_fields(
            length=_expect_span("length", length),
            offset=_expect_span("offset", offset),
            align_to=_expect_utc_datetime("align_to", align_to),
        )


class SessionWindow(WindowConfig):
    """Windows that group items separated by less than `gap`.

    A session stays open until no item has arrived for `gap` of clock time.
    """

    _FIELDS = ("gap",)

    def __init__(self, gap: timedelta):
        self._set_fields(gap=_expect_span("gap", gap))
