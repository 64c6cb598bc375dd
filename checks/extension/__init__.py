"""The Azure ML extension, planned and installed. Before an install: ``extension.config``
(config.py), ``extension.conflicts`` (conflicts.py), ``extension.ownership`` (ownership.py),
``extension.network-policy`` (network_policy.py, with netpol.py), ``extension.tls`` (tls.py,
with certs.py), ``extension.loadbalancer`` (loadbalancer.py), ``extension.instance-types``
(instance_types.py: the cluster's and the planned InstanceTypes) and the corrected-command summary
(recommendation.py). After it: ``extension.installed`` (installed.py, reading resource.py),
``extension.components`` (components.py, with the table components_table.py, the namespace's
reads components_namespace.py, the configuration judged components_configuration.py and pod
failures components_pod_failures.py) and ``extension.healthcheck`` (healthcheck.py). Both:
``extension.helm-history`` (helm_history.py), ``extension.volcano-autoscaler``
(volcano_autoscaler.py), ``extension.device-plugins`` (device_plugins.py).

Registered as the entry point ``extension`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.extension import (
    components,
    config,
    conflicts,
    device_plugins,
    healthcheck,
    helm_history,
    installed,
    instance_types,
    loadbalancer,
    network_policy,
    ownership,
    recommendation,
    tls,
    volcano_autoscaler,
)

CATEGORIES = [Category("extension", "Extension", 30)]
CHECKS = [
    *config.CHECKS,
    *conflicts.CHECKS,
    *ownership.CHECKS,
    *helm_history.CHECKS,
    *network_policy.CHECKS,
    *volcano_autoscaler.CHECKS,
    *device_plugins.CHECKS,
    *tls.CHECKS,
    *loadbalancer.CHECKS,
    *instance_types.CHECKS,
    *recommendation.CHECKS,
    *installed.CHECKS,
    *components.CHECKS,
    *healthcheck.CHECKS,
]
