"""GPU readiness: ``gpu.device-plugin`` (device_plugin.py) and ``gpu.health`` (health.py: NVML
on this machine, or on every GPU node through node_probes.py; read in nvml_reading.py, recorded
in gpu_record.py, judged in gpu_verdicts.py). gpu_nodes.py says which nodes carry GPUs.

Registered as the entry point ``gpu`` of the group ``preflight.checks`` (pyproject.toml).
"""

from __future__ import annotations

from preflight.api import Category
from preflight.checks.gpu import device_plugin, health

CATEGORIES = [Category("gpu", "GPU", 50)]
CHECKS = [*device_plugin.CHECKS, *health.CHECKS]
