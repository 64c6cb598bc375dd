"""Can the cluster's network reach what the extension needs? ``dns.resolve`` (dns.py) and
``egress.https`` (egress.py) from where preflight runs, ``connectivity.in-cluster`` (in_cluster.py)
from every node pool. services.py is the table of what each kind of Azure service answers, by
which egress.py tells the origin's answer from a proxy's.

Registered as the entry point ``connectivity`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.connectivity import dns, egress, in_cluster

CATEGORIES = [Category("connectivity", "Connectivity", 10)]
CHECKS = [*dns.CHECKS, *egress.CHECKS, *in_cluster.CHECKS]
