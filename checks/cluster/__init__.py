"""The Kubernetes cluster itself: ``cluster.reachable`` and ``cluster.version`` (api_server.py),
``nodes.capacity`` (capacity.py: do eligible nodes meet the planned workload) and ``cluster.dns``
(dns.py: does CoreDNS serve pods).

Registered as the entry point ``cluster`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.cluster import api_server, capacity, dns

CATEGORIES = [Category("cluster", "Cluster", 20)]
CHECKS = [*api_server.CHECKS, *capacity.CHECKS, *dns.CHECKS]
