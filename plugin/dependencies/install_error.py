"""The dependency installer's error: its message says what went wrong and what to do."""
from __future__ import annotations

from ..core.errors import SeamlessError


class InstallError(SeamlessError):
    """Installing (or removing) the plugin's packages did not succeed; nothing was changed."""
