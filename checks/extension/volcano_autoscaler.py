"""``extension.volcano-autoscaler``: Volcano's gang scheduling and a cluster autoscaler are not set
up to work against each other.

The extension's troubleshooting page, section "Volcano scheduler integration supporting cluster
autoscaler"
(https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension
#volcano-scheduler-integration-supporting-cluster-autoscaler): "the gang plugin isn't working well
with the cluster autoscaler(CA) and also the node autoscaler in AKS" (volcano-sh/volcano#2558),
and "the cluster autoscaler(CA) in AKS cluster won't be supported with the volcano installed by
extension", whose default scheduler configuration enables gang. Its workaround is a scheduler
configuration without gang in a ConfigMap in ``azureml``, passed as
``volcanoScheduler.schedulerConfigMap=<name>`` with ``amloperator.skipResourceValidation=true``.

Volcano counts when the plan installs it (``installVolcano`` defaults to True; the extension
installs it for training) or one already runs (its CRDs or workloads). An autoscaler counts when
the AKS resource has a node pool with ``enableAutoScaling`` (the cluster resource, when ARM or
``--set aks_json`` is available), a ``cluster-autoscaler`` Deployment runs in the cluster
(self-managed and Arc clusters), the autoscaler's status ConfigMap
``kube-system/cluster-autoscaler-status`` exists (AKS's managed autoscaler writes it:
https://learn.microsoft.com/azure/aks/cluster-autoscaler#retrieve-cluster-autoscaler-logs-and-status),
or Karpenter's ``nodepools.karpenter.sh`` CRD is installed (AKS node auto-provisioning, the "node
autoscaler" the page names: inferred). The page calls it unsupported, not broken: a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from preflight.api import Check, Context, Finding, run_in_daemon_thread
from preflight.checks._shared.bundled import DOCS_VOLCANO, VOLCANO
from preflight.checks._shared.cluster_resource import ClusterRead, read_cluster
from preflight.checks._shared.kube_reads import (
    Inventory,
    Read,
    failed_reads,
    get_one,
    labels,
    meta,
    planned_bool,
    ref,
    setting_text,
    unverified,
)
from preflight.checks._shared.plan import EXTENSION_NAME_PARAM, NAMESPACE, Plan

DOCS_VOLCANO_CA = DOCS_VOLCANO[: DOCS_VOLCANO.index("#")] + (
    "#volcano-scheduler-integration-supporting-cluster-autoscaler"
)
DOCS_AKS_CA = (
    "https://learn.microsoft.com/azure/aks/cluster-autoscaler"
    "#retrieve-cluster-autoscaler-logs-and-status"
)
SCHEDULER_CONFIG = "volcanoScheduler.schedulerConfigMap"
SKIP_VALIDATION = "amloperator.skipResourceValidation"
STATUS_CONFIGMAP = "cluster-autoscaler-status"
KARPENTER_CRD = "nodepools.karpenter.sh"
AUTOSCALER_NAME = re.compile(r"(^|-)cluster-autoscaler($|-)")
NO_GANG = (
    "a ConfigMap in namespace azureml whose volcano-scheduler.conf leaves out the gang plugin "
    "(the troubleshooting page shows one)"
)


@dataclass
class Evidence:
    """What says a cluster autoscaler runs, and what could not be read."""

    found: list[str] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)  # from the AKS resource
    arm: str = ""  # how the AKS resource was (or was not) read
    arm_says_none: bool = False


def _kube_evidence(ctx: Context, evidence: Evidence, inventory: Inventory) -> None:
    status = get_one(
        ctx,
        f"ConfigMap kube-system/{STATUS_CONFIGMAP}",
        "v1",
        "configmaps",
        STATUS_CONFIGMAP,
        "kube-system",
    )
    evidence.reads += [status, inventory.deployments, inventory.crds]
    for cm in status.items:
        first = str((cm.get("data") or {}).get("status") or "").strip().splitlines()[:1]
        written = f": {first[0][:120]}" if first else ""
        evidence.found.append(f"ConfigMap kube-system/{STATUS_CONFIGMAP}{written}")
    for deploy in inventory.deployments.items:
        name = str(meta(deploy).get("name", ""))
        app = labels(deploy).get("app.kubernetes.io/name") or labels(deploy).get("app")
        if AUTOSCALER_NAME.search(name) or app == "cluster-autoscaler":
            evidence.found.append(ref("Deployment", deploy))
    for crd in inventory.crds.items:
        if meta(crd).get("name") == KARPENTER_CRD:
            evidence.found.append(
                f"CustomResourceDefinition/{KARPENTER_CRD} (node autoprovisioning)"
            )


def _arm_evidence(read: ClusterRead, evidence: Evidence) -> None:
    if read.cluster is None:
        problem = read.problem
        evidence.arm = f"not read ({problem.message})" if problem else "not read"
        return
    info = read.cluster
    if info.kind != "aks":
        evidence.arm = "Arc-enabled cluster: no node pools in ARM"
        return
    pools = info.get("agentPoolProfiles") or []
    evidence.arm = f"read from {info.source}"
    for pool in pools:
        if isinstance(pool, dict) and pool.get("enableAutoScaling") is True:
            evidence.pools.append(
                {k: pool.get(k) for k in ("name", "minCount", "maxCount", "count", "vmSize")}
            )
    for pool in evidence.pools:
        evidence.found.insert(
            0,
            f"AKS node pool {pool['name']} autoscales ({pool.get('minCount')}-"
            f"{pool.get('maxCount')} nodes)",
        )
    evidence.arm_says_none = not evidence.pools


class VolcanoAutoscaler(Check):
    """Volcano's gang plugin and a cluster autoscaler do not meet (module doc)."""

    id = "extension.volcano-autoscaler"
    title = "Volcano's gang scheduling does not run beside a cluster autoscaler"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_VOLCANO_CA
    parameters = EXTENSION_NAME_PARAM

    async def run(self, ctx: Context) -> list[Finding]:
        plan = Plan(ctx.extension_settings)
        inventory = await run_in_daemon_thread(Inventory, ctx)
        evidence = Evidence()
        kube = run_in_daemon_thread(_kube_evidence, ctx, evidence, inventory)
        _arm_evidence(await read_cluster(ctx), evidence)
        await kube
        return [self._judge(plan, inventory, evidence)]

    def _judge(self, plan: Plan, inventory: Inventory, evidence: Evidence) -> Finding:
        install, source = planned_bool(plan, VOLCANO.setting)
        planned = install and (plan.training or not plan.given)
        existing = [
            ref("Deployment", d) for d in inventory.deployments.items if VOLCANO.matches_workload(d)
        ] + [
            f"CustomResourceDefinition/{meta(c).get('name')}"
            for c in inventory.crds.items
            if VOLCANO.matches_crd(c)
        ]
        details: dict[str, Any] = {
            "volcano_planned": planned,
            "volcano_setting": setting_text(VOLCANO.setting, install, source),
            "volcano_found": existing[:6],
            "autoscaler_evidence": evidence.found,
            "autoscaling_pools": evidence.pools,
            "aks_resource": evidence.arm,
        }
        config_map = plan.value(SCHEDULER_CONFIG) if plan.explicit(SCHEDULER_CONFIG) else None
        target = "Volcano and the cluster autoscaler"
        if not planned and not existing:
            why = "the plan does not enable training" if install else "installVolcano=False"
            return Finding.passed(
                target,
                f"no Volcano: none is installed and the extension will not install one ({why})",
                **details,
            )
        failed = failed_reads(evidence.reads)
        if failed:
            details["unverified"] = failed
        if evidence.arm_says_none:
            # the AKS resource is the authority on its pools: a left-over status ConfigMap of a
            # disabled autoscaler is not one
            evidence.found = [e for e in evidence.found if "cluster-autoscaler-status" not in e]
            details["autoscaler_evidence"] = evidence.found
        if not evidence.found:
            if failed and not evidence.arm_says_none:
                return unverified(
                    target, "whether a cluster autoscaler runs", evidence.reads, **details
                )
            return Finding.passed(
                target,
                "no cluster autoscaler: no AKS node pool autoscales"
                if evidence.arm_says_none
                else "no cluster autoscaler seen (no autoscaler Deployment, no "
                f"kube-system/{STATUS_CONFIGMAP}, no Karpenter node pools)",
                **details,
            )
        volcano = (
            f"the extension installs Volcano ({details['volcano_setting']})"
            if planned
            else f"Volcano is installed ({', '.join(existing[:2])})"
        )
        what = "; ".join(evidence.found[:3])
        if planned and config_map:
            details["scheduler_config_map"] = config_map
            return Finding.passed(
                target,
                f"{volcano} with the scheduler configuration of ConfigMap {config_map} "
                f"({SCHEDULER_CONFIG}), the documented way to run beside the autoscaler "
                f"({what}); make sure it leaves out the gang plugin and use one instance type "
                "across jobs, as the page advises against deadlocks",
                **details,
            )
        if planned:
            remediation = (
                f"to keep the autoscaler, give the extension's Volcano {NO_GANG}: "
                f"--config {SCHEDULER_CONFIG}=<configmap name> {SKIP_VALIDATION}=true (without "
                "gang, jobs can deadlock: use one instance type across jobs); or disable "
                "autoscaling on the node pools training jobs use"
            )
        else:
            remediation = (
                "configure the existing Volcano's scheduler without the gang plugin, or disable "
                "autoscaling on the node pools training jobs use"
            )
        return Finding.warned(
            target,
            f"{volcano} and a cluster autoscaler runs ({what}): Volcano's gang plugin does not "
            "work well with the cluster autoscaler, and the extension's Volcano with its default "
            "(gang) scheduler configuration is not supported beside the AKS cluster autoscaler",
            remediation + f" (the ConfigMap goes in namespace {NAMESPACE})",
            DOCS_VOLCANO_CA,
            **details,
        )


CHECKS = [VolcanoAutoscaler()]
