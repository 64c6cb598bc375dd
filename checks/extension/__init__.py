"""The Azure ML extension, planned and installed. Before an install: ``extension.config``
(config.py), ``extension.conflicts`` (conflicts.py), ``extension.tls`` (tls.py, with certs.py),
``extension.loadbalancer`` (loadbalancer.py) and the corrected-command summary
(recommendation.py). After it: ``extension.installed`` (installed.py, reading resource.py),
``extension.components`` (components.py, with the table components_table.py) and
``extension.healthcheck`` (healthcheck.py).

Registered as the entry point ``extension`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.extension import (
    components,
    config,
    conflicts,
    healthcheck,
    installed,
    loadbalancer,
    recommendation,
    tls,
)

CATEGORIES = [Category("extension", "Extension", 30)]
CHECKS = [
    *config.CHECKS,
    *conflicts.CHECKS,
    *tls.CHECKS,
    *loadbalancer.CHECKS,
    *recommendation.CHECKS,
    *installed.CHECKS,
    *components.CHECKS,
    *healthcheck.CHECKS,
]
