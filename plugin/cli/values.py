"""Option values checked with the messages the Processing algorithms give for the same parameters
(``OVERLAP must be from 0 to 90, got 95.``), as argparse types: a bad value exits with status 2."""
from __future__ import annotations

import argparse
import math
from typing import Callable, Sequence


def number_problem(name: str, text: str, minimum: float | None = None, maximum: float | None = None,
                   integer: bool = False) -> str | None:
    """The message for a value that is not a number of the right kind and range, None when it fits."""
    try:
        number = float(text)
    except (TypeError, ValueError):
        return f"{name} must be a number, got {text!r}."
    if not math.isfinite(number) or (integer and number != int(number)):
        return f"{name} must be a {'whole ' if integer else ''}number, got {text!r}."
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        if maximum is None:
            allowed = f"at least {minimum:g}"
        elif minimum is None:
            allowed = f"at most {maximum:g}"
        else:
            allowed = f"from {minimum:g} to {maximum:g}"
        return f"{name} must be {allowed}, got {number:g}."
    return None


def number(name: str, minimum: float | None = None, maximum: float | None = None,
           integer: bool = False) -> Callable[[str], float]:
    """An argparse type for the parameter ``name`` (its Processing name, used in the messages)."""
    def parse(text: str) -> float:
        problem = number_problem(name, text, minimum, maximum, integer)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return int(float(text)) if integer else float(text)
    parse.__name__ = name  # argparse names the type in some messages
    return parse


def choice(name: str, options: Sequence[str]) -> Callable[[str], str]:
    """An argparse type accepting one of ``options`` (by name, or by its index as in Processing)."""
    def parse(text: str) -> str:
        if text in options:
            return text
        if text.strip().isdigit() and int(text) < len(options):
            return options[int(text)]
        raise argparse.ArgumentTypeError(f"{name} '{text}' is not one of its options: {', '.join(options)}.")
    parse.__name__ = name
    return parse
