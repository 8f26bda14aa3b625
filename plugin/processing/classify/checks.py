"""Cheap checks of the Classify raster parameters, run before anything heavy (checkParameterValues): the checks
every raster algorithm shares (:mod:`..common.run_checks`)."""
from __future__ import annotations

from ..common.run_checks import check_run_parameters as check_classify_parameters

__all__ = ["check_classify_parameters"]
