"""Planned online deployments (``--deployment FILE``): ``deployment.config`` (config.py, with the
rules in rules_v1.py and rules_v2.py and what they share in issues.py: does the plan keep the
documented rules, does an HPA wait for it) and ``deployment.capacity`` (capacity.py, with
usage.py: do its replicas fit the free room of the nodes its instance type selects).
plan_file.py reads a v1 ``deploymentconfig.json`` or a v2 Kubernetes online deployment YAML.

Registered as the entry point ``deployment`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.deployment import capacity, config

CATEGORIES = [Category("deployment", "Planned deployment", 35)]
CHECKS = [*config.CHECKS, *capacity.CHECKS]
