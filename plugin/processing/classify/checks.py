"""Cheap checks of the Classify raster parameters, run before anything heavy (checkParameterValues)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..common.run_inputs import check_run_parameters

if TYPE_CHECKING:
    from ...adapters.classify.job import ClassifyRequest


def check_classify_parameters(request: "ClassifyRequest") -> None:
    """Raise a SeamlessError naming the first parameter that cannot work."""
    check_run_parameters(request)
