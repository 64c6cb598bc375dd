"""Each built-in profile covers its cloud's seed DNS table (copied into tests/data/seed_hosts).

The seed rows are rendered with example values and must be among the profile's hosts rendered
with the same values, so a typo in a suffix (azurecr.com for azurecr.cn) fails here.
"""

from __future__ import annotations

import re

import pytest
from support.paths import DATA

from preflight.context import Context, RunOptions
from preflight.profile import load_profile

SEED_HOSTS = DATA / "seed_hosts"
REGION = {"azure-public": "eastus", "azure-china": "chinaeast2", "azure-usgov": "usgovvirginia"}
SEED_VALUES = {
    "cluster": "mycluster",
    "acr name": "myacr",
    "account": "mystore",
    "leaf-domain-label + auto-generated suffix": "myep-a1b2",
    "label": "myep-a1b2",
}


def seed_rows(profile: str) -> list[str]:
    rows = []
    for line in (SEED_HOSTS / f"{profile}.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t")[0].replace("(inferred)", "").strip())
    return rows


def render_seed(row: str, region: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip().lower()
        return region if name == "region" else SEED_VALUES[name]

    return re.sub(r"[<{]([^>}]+)[>}]", value, row).lower()


@pytest.mark.parametrize("profile_name", ["azure-public", "azure-china", "azure-usgov"])
def test_profile_covers_seed_dns_table(profile_name: str) -> None:
    region = REGION[profile_name]
    rows = seed_rows(profile_name)
    assert len(rows) >= 8
    api_server = next(render_seed(r, region) for r in rows if "hcp" in r)
    params = {
        "region": region,
        "acr": "myacr",
        "storage_account": "mystore",
        "endpoint_label": "myep-a1b2",
        "api_server": api_server,
        "workspace_guid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    }
    ctx = Context(RunOptions(profile=load_profile(profile_name), params=params))
    rendered = {h.fqdn for h in ctx.hosts()}
    assert None not in rendered, "every template renders once its documented parameters are set"
    missing = [row for row in rows if "*" not in row and render_seed(row, region) not in rendered]
    assert not missing, f"{profile_name} lacks seed hosts: {missing}"


#: global names a sovereign cloud's own docs list as written (not a suffix left unswapped): the Arc
#: network-requirements Azure Government tab (ms.date 2026-06-11) names sts.windows.net
DOCUMENTED_GLOBAL_NAMES = {"azure-usgov": {"sts.windows.net"}}


def test_china_and_usgov_use_their_own_suffixes() -> None:
    for name, wrong in [
        ("azure-china", ".azurecr.io"),
        ("azure-usgov", ".azurecr.io"),
        ("azure-china", "management.azure.com"),
        ("azure-usgov", ".windows.net"),
    ]:
        allowed = DOCUMENTED_GLOBAL_NAMES.get(name, set())
        templates = [h.template for h in load_profile(name).hosts if h.template not in allowed]
        assert not [t for t in templates if t.endswith(wrong) or t == wrong], (name, wrong)


# Issue 15 audit: hosts the current pages document, per cloud, as (template, port, required,
# needed_for). Sources: AKS outbound-rules-control-egress.md (ms.date 2026-06-18), Arc
# network-requirements includes (ms.date 2026-06-11), Azure ML how-to-custom-dns.md (2026-03-26).
DOCUMENTED = {
    "azure-public": [
        ("packages.aks.azure.com", 443, True, {"aks"}),
        ("azure.archive.ubuntu.com", 80, False, {"aks"}),
        ("changelogs.ubuntu.com", 80, False, {"aks"}),
        ("snapshot.ubuntu.com", 443, False, {"aks"}),
        ("eus.his.arc.azure.com", 443, True, {"arc"}),
        ("guestnotificationservice.azure.com", 443, True, {"arc"}),
        ("{region}.guestnotificationservice.azure.com", 443, False, {"arc"}),
        ("sts.windows.net", 443, True, {"arc"}),
        ("graph.microsoft.com", 443, False, {"arc"}),
        ("{region}.obo.arc.azure.com", 8084, False, {"arc"}),
        ("{workspace_guid}.workspace.{region}.cert.api.azureml.ms", 443, False, None),
    ],
    "azure-china": [
        ("mcr.azure.cn", 443, True, {"aks"}),
        ("{region}.data.mcr.azure.cn", 443, False, {"aks"}),
        ("azure.archive.ubuntu.com", 80, False, {"aks"}),
        ("guestnotificationservice.azure.cn", 443, True, {"arc"}),
        ("{region}.guestnotificationservice.azure.cn", 443, False, {"arc"}),
        ("sts.chinacloudapi.cn", 443, True, {"arc"}),
        ("graph.chinacloudapi.cn", 443, False, {"arc"}),
        ("{region}.obo.arc.azure.cn", 8084, False, {"arc"}),
        ("{workspace_guid}.workspace.{region}.cert.api.ml.azure.cn", 443, False, None),
    ],
    "azure-usgov": [
        ("packages.aks.azure.com", 443, True, {"aks"}),
        ("azure.archive.ubuntu.com", 80, False, {"aks"}),
        ("guestnotificationservice.azure.us", 443, True, {"arc"}),
        ("{region}.guestnotificationservice.azure.us", 443, False, {"arc"}),
        ("sts.windows.net", 443, True, {"arc"}),
        ("graph.microsoft.com", 443, False, {"arc"}),
        ("usgovvirginia.obo.arc.azure.us", 8084, False, {"arc"}),
        ("{workspace_guid}.workspace.{region}.cert.api.ml.azure.us", 443, False, None),
    ],
}
#: documented for the onboarding machine or for features the Azure ML extension does not use
NOT_CLUSTER_EGRESS = {
    "dl.k8s.io",
    "gcs.prod.monitoring.core.windows.net",
    "arcmktplaceprod.azurecr.io",
}
SERVICE_KINDS = {
    "acr",
    "mcr",
    "storage",
    "keyvault",
    "aml",
    "arm",
    "login",
    "azure",
    "kubernetes",
    "generic",
}


@pytest.mark.parametrize("profile_name", sorted(DOCUMENTED))
def test_profile_carries_the_documented_hosts(profile_name: str) -> None:
    hosts = {(h.template, h.port): h for h in load_profile(profile_name).hosts}
    for template, port, required, needed_for in DOCUMENTED[profile_name]:
        spec = hosts.get((template, port))
        assert spec is not None, f"{profile_name} lacks {template}:{port}"
        assert spec.required is required, (profile_name, template)
        if needed_for is not None:
            assert set(spec.needed_for) == needed_for, (profile_name, template)
        assert "ms.date 20" in (spec.source or ""), f"{template}: source names no page date"
    assert not NOT_CLUSTER_EGRESS & {t for t, _ in hosts}, "onboarding/feature-only hosts"


@pytest.mark.parametrize("profile_name", sorted(DOCUMENTED))
def test_profile_services_are_known_and_the_api_server_is_kubernetes(profile_name: str) -> None:
    profile = load_profile(profile_name)
    for spec in profile.hosts:
        assert spec.service is None or spec.service in SERVICE_KINDS, (spec.template, spec.service)
    api = next(h for h in profile.hosts if h.template == "{api_server}")
    assert api.service == "kubernetes"
    by_template = {h.template: h.service for h in profile.hosts}
    # caches of MCR under a suffix that would read as a generic Azure service
    for template in ("mcr.azure.cn", "{region}.data.mcr.azure.cn"):
        if template in by_template:
            assert by_template[template] == "mcr", template
    # CDN / download hosts and the cluster's own endpoints must not expect an Azure CA
    for template in ("acs-mirror.azureedge.net", "packages.aks.azure.com"):
        if template in by_template:
            assert by_template[template] == "generic", template


def test_arc_only_hosts_become_required_only_for_arc() -> None:
    profile = load_profile("azure-public")
    aks = {
        h.spec.template: h.required
        for h in Context(RunOptions(profile=profile, params={"region": "eastus"})).hosts()
    }
    arc = {
        h.spec.template: h.required
        for h in Context(
            RunOptions(profile=profile, params={"region": "eastus", "cluster_type": "arc"})
        ).hosts()
    }
    arc_only = [h.template for h in profile.hosts if set(h.needed_for) == {"arc"} and h.required]
    assert arc_only, "the public profile has Arc-only hosts"
    for template in arc_only:
        assert aks[template] is False and arc[template] is True
    training_only = [
        h.template for h in profile.hosts if set(h.needed_for) == {"training"} and h.required
    ]
    for template in training_only:
        assert aks[template] is False
