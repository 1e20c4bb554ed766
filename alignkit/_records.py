"""Plain data classes without :mod:`dataclasses`.

``dataclasses`` imports :mod:`inspect` (about 10 ms of every ``alignkit tokenize`` run's
start-up) and builds each class's methods with ``exec`` (about 1 ms a class), so the
records on the tokenize path derive from these two bases instead:

- :class:`Record`: equal and shown field by field, unhashable (it may change), pickled as
  its class and field values;
- :class:`Frozen`: the same, immutable, and hashed by its field values.

A subclass names its fields in ``__slots__`` (or in ``_fields``, when it keeps a
``__dict__``), in the order of its ``__init__`` arguments: pickling calls the class with
the field values in that order.

    >>> class Point(Frozen):
    ...     __slots__ = ("x", "y")
    ...     def __init__(self, x: int, y: int = 0) -> None:
    ...         super().__init__(x, y)
    >>> Point(1), Point(1) == Point(1, 0), hash(Point(1)) == hash(Point(1, 0))
    (Point(x=1, y=0), True, True)
    >>> Point(1).x = 2
    Traceback (most recent call last):
    ...
    AttributeError: cannot assign to field 'x': a Point is immutable
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    """Plain data: equal, shown and pickled by its fields; unhashable (see the module doc)."""

    __slots__: ClassVar[tuple[str, ...]] = ()
    #: The field names of a subclass without ``__slots__`` (else its ``__slots__``).
    _fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The fields, in the order of the ``__init__`` arguments."""
        return cls._fields or cls.__slots__

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.field_names()])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # it may change: unhashable, like a dataclass

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(self.field_names(), self._values()))
        return f"{self.__class__.__qualname__}({shown})"

    def __reduce__(self) -> tuple[type[Record], tuple[Any, ...]]:
        return (self.__class__, self._values())


class Frozen(Record):
    """Immutable plain data, hashed by its field values (see the module doc)."""

    __slots__: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *values: Any) -> None:
        names = self.field_names()
        if len(values) != len(names):
            raise TypeError(f"{self.__class__.__name__} takes {len(names)} fields, got {len(values)}")
        for name, value in zip(names, values):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a {self.__class__.__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a {self.__class__.__name__} is immutable")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())
