"""``smoke.inference`` (inference.py): a model server deployed in the cluster, measured under
open-loop load, and compared with a saved baseline (compare.py).

Registered as the entry point ``smoke`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.smoke import inference

CATEGORIES = [Category("smoke", "Smoke test", 60)]
CHECKS = [*inference.CHECKS]
