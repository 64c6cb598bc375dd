"""The profile loader: built-ins load, user profiles extend them, bad files name file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from preflight.profile import ProfileError, builtin_names, load_profile

BUILTINS = ["azure-china", "azure-public", "azure-usgov"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_builtins_load_and_document_every_placeholder() -> None:
    assert builtin_names() == BUILTINS
    for name in BUILTINS:
        profile = load_profile(name)
        assert profile.name == name
        undocumented = profile.placeholders() - set(profile.parameters)
        assert not undocumented, f"{name}: placeholders without a documented parameter"
        for spec in profile.hosts:
            assert spec.source, f"{name}: {spec.template} has no source"
            assert spec.purpose, f"{name}: {spec.template} has no purpose"
            assert spec.needed_for, f"{name}: {spec.template} says nothing of what needs it"


def test_unknown_profile_suggests_nearest() -> None:
    with pytest.raises(
        ProfileError, match=r"unknown profile 'azure-chna' \(did you mean azure-china"
    ):
        load_profile("azure-chna")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        name: x
        cloud: AzureCloud
        hosts:
          - host: a.example
            port: [443
        """,
    )
    with pytest.raises(ProfileError) as err:
        load_profile(str(path))
    assert f"{path}:" in str(err.value) and "malformed YAML" in str(err.value)
    line = int(str(err.value).split(f"{path}:")[1].split(":")[0])
    assert line in (5, 6)


def test_unknown_host_key_names_its_line_and_nearest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        """\
        name: x
        cloud: AzureCloud
        hosts:
          - host: a.example
          - host: b.example
            prot: 443
        """,
    )
    with pytest.raises(
        ProfileError, match=rf"{path}:6: unknown host key 'prot' \(did you mean 'port'"
    ):
        load_profile(str(path))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("cloud: c\nhosts: [{host: a}]\n", ":1: missing required key 'name'"),
        ("name: x\ncloud: c\nhosts: []\n", ":3: hosts must be a non-empty list"),
        ("name: x\ncloud: c\nhosts: [{host: a, port: 70000}]\n", "port must be an integer"),
        (
            "name: x\ncloud: c\nhosts:\n  - host: a\n    needed_for: [trainng]\n",
            ":5: unknown scenario 'trainng' (did you mean 'training'?)",
        ),
        ("name: x\ncloud: c\nhosts:\n  - a.example\n", ":4: a host entry is a mapping"),
        ("name: x\ncloud: c\nhosts: [{host: '{a b}.x'}]\n", "must be names"),
        ("name: x\ncloud: c\nhosts: [{host: a}, {host: a}]\n", "is listed twice"),
        ("- just\n- a list\n", ":1: a profile must be a YAML mapping"),
        ("name: x\nname: y\ncloud: c\nhosts: [{host: a}]\n", ":2: duplicate key 'name'"),
        ("name: x\ncloud: c\nhosts: [{host: a, required: maybe}]\n", "required must be true"),
        ("name: x\ncloud: c\nhosst: []\n", "unknown profile key 'hosst' (did you mean 'hosts'?)"),
    ],
)
def test_invalid_profiles_are_one_clear_line(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    with pytest.raises(ProfileError) as err:
        load_profile(str(path))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_extends_builtin_merges_maps_and_replaces_hosts_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "contoso.yaml",
        """\
        name: contoso-china
        cloud: AzureChinaCloud
        extends: azure-china
        endpoints:
          arm: https://127.0.0.1:8443
        hosts:
          - host: mcr.microsoft.com
            port: 8443
            purpose: replaced
            needed_for: [aks]
            source: contoso
          - host: pkgs.contoso.cn
            purpose: internal mirror
            needed_for: [training]
            source: contoso
        """,
    )
    base = load_profile("azure-china")
    profile = load_profile(str(path))
    assert profile.name == "contoso-china"
    assert profile.endpoints["arm"] == "https://127.0.0.1:8443"
    assert profile.endpoints["login"] == base.endpoints["login"]  # deep merge keeps the rest
    templates = [h.template for h in profile.hosts]
    assert templates.count("mcr.microsoft.com") == 1
    assert len(profile.hosts) == len(base.hosts) + 1
    replaced = next(h for h in profile.hosts if h.template == "mcr.microsoft.com")
    assert replaced.port == 8443 and replaced.purpose == "replaced"


def test_extends_cycle_and_missing_parent(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\ncloud: c\nextends: b.yaml\nhosts: [{host: a}]\n")
    write(tmp_path, "b.yaml", "name: b\ncloud: c\nextends: a.yaml\nhosts: [{host: b}]\n")
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(str(tmp_path / "a.yaml"))
    write(tmp_path, "c.yaml", "name: c\ncloud: c\nextends: nowhere.yaml\nhosts: [{host: c}]\n")
    with pytest.raises(ProfileError, match=r"c.yaml:3: extends: .*does not exist"):
        load_profile(str(tmp_path / "c.yaml"))


def test_host_templates_render_and_report_missing_parameters() -> None:
    profile = load_profile("azure-china")
    acr = next(h for h in profile.hosts if h.template == "{acr}.azurecr.cn")
    assert acr.render({"acr": "MyAcr"}) == "myacr.azurecr.cn"
    assert acr.render({}) is None
    assert acr.placeholders == ("acr",)
