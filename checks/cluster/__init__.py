"""The Kubernetes cluster itself, one module per check: ``cluster.reachable`` (reachable.py: can
we talk to it), ``cluster.version`` (version.py: is its Kubernetes supported), ``nodes.capacity``
(capacity.py: do eligible nodes meet the planned workload) and ``cluster.dns`` (dns.py: does
CoreDNS serve pods).

Registered as the entry point ``cluster`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.cluster import capacity, dns, reachable, version

CATEGORIES = [Category("cluster", "Cluster", 20)]
CHECKS = [*reachable.CHECKS, *version.CHECKS, *capacity.CHECKS, *dns.CHECKS]
