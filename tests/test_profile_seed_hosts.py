"""Each built-in profile covers its cloud's seed DNS table (copied into tests/data/seed_hosts).

The seed rows are rendered with example values and must be among the profile's hosts rendered
with the same values, so a typo in a suffix (azurecr.com for azurecr.cn) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from preflight.context import Context, RunOptions
from preflight.profile import load_profile

DATA = Path(__file__).parent / "data" / "seed_hosts"
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
    for line in (DATA / f"{profile}.txt").read_text().splitlines():
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


def test_china_and_usgov_use_their_own_suffixes() -> None:
    for name, wrong in [
        ("azure-china", ".azurecr.io"),
        ("azure-usgov", ".azurecr.io"),
        ("azure-china", "management.azure.com"),
        ("azure-usgov", ".windows.net"),
    ]:
        templates = [h.template for h in load_profile(name).hosts]
        assert not [t for t in templates if t.endswith(wrong) or t == wrong], (name, wrong)


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
