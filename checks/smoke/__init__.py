"""``smoke.inference`` (inference.py): a model server deployed in the cluster, measured under
open-loop load (settings.py: what it is asked to measure; load_result.py: what one load run
concludes), and compared with a saved baseline (baseline.py, with the rules in compare.py).

Registered as the entry point ``smoke`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.smoke import inference

CATEGORIES = [Category("smoke", "Smoke test", 60)]
CHECKS = [*inference.CHECKS]
