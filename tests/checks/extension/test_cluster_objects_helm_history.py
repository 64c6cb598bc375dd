"""extension.helm-history end to end: Helm 3 release records in namespace azureml, stored as Helm
stores them (Secrets of type helm.sh/release.v1, data.release = base64(gzip(json))), read back by
the real CLI through the fake Kubernetes API server. Sources: the extension's troubleshooting page
(https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import Result, run_checks

CHECK = "extension.helm-history"
SECRET_VALUE = "s3cr3t-key-material-never-printed"


def run(tmp_path: Path, api: Any, *checks: str) -> Result:
    return run_checks(api, tmp_path, checks or CHECK, formats="json,md,junit,html")


def ago(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)


def cluster(*records: dict[str, Any]) -> list[dict[str, Any]]:
    from support.kube_objects import default_namespaces, namespace

    return [*default_namespaces(), namespace("azureml"), *records]


def release(revision: int, status: str, hours: float = 0, **kwargs: Any) -> dict[str, Any]:
    from support.kube_objects import helm_release_secret

    return helm_release_secret(
        "azureml",
        "azureml",
        revision,
        status,
        last_deployed=ago(hours),
        modified=ago(hours),
        values={"scoringFe": {"sslKey": SECRET_VALUE}},
        **kwargs,
    )


def test_an_upgrade_pending_for_hours_fails_with_the_cleanup_commands(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(
        cluster(
            release(1, "superseded", 30),
            release(2, "deployed", 20),
            release(3, "pending-upgrade", 3),
        )
    )
    result = run(tmp_path, api)
    assert result.code == 1
    finding = result.only(CHECK)
    assert finding["status"] == "fail"
    assert finding["target"] == "Secret/azureml/sh.helm.release.v1.azureml.v3"
    assert "revision 3 is pending-upgrade" in finding["message"]
    assert "pending for 3h" in finding["message"]
    assert "earlier operation for the helm chart is still in progress" in finding["message"]
    assert finding["details"]["commands"] == [
        "kubectl delete secret -n azureml sh.helm.release.v1.azureml.v3"
    ]
    assert finding["details"]["latest"]["chart"] == "azureml-extension"
    assert finding["docs"].endswith(
        "#error-earlier-operation-for-the-helm-chart-is-still-in-progress"
    )
    # the release's values (which hold the TLS key) never reach any report
    for path in (tmp_path / "out").iterdir():
        assert SECRET_VALUE not in path.read_text(errors="replace"), path
    assert SECRET_VALUE not in result.stdout


def test_a_rollback_that_just_started_warns_to_wait(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(cluster(release(1, "deployed", 5), release(2, "pending-rollback", 0.1)))
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "warn"
    assert "pending-rollback" in finding["message"]
    assert "wait about an hour" in finding["remediation"]
    assert "sh.helm.release.v1.azureml.v2" in finding["remediation"]


def test_pending_revisions_left_in_the_history_warn_of_the_operator_oom(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(
        cluster(
            release(1, "superseded", 50),
            release(2, "pending-upgrade", 40),
            release(3, "pending-rollback", 39),
            release(4, "deployed", 10),
        )
    )
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "warn"
    assert "deployed at revision 4" in finding["message"]
    assert "v2 pending-upgrade, v3 pending-rollback" in finding["message"]
    assert "OOM-killed" in finding["message"]
    assert finding["details"]["commands"] == [
        "kubectl delete secret -n azureml sh.helm.release.v1.azureml.v2",
        "kubectl delete secret -n azureml sh.helm.release.v1.azureml.v3",
    ]
    assert "oomkill" in finding["docs"]


@pytest.mark.parametrize("status", ["pending-install", "pending-upgrade", "pending-rollback"])
def test_every_pending_status_is_caught_by_both_checks(
    tmp_path: Path, kube_api: Any, status: str
) -> None:
    api = kube_api(cluster(release(1, status, 2)))
    result = run(tmp_path, api, CHECK, "extension.conflicts")
    assert result.only(CHECK)["status"] == "fail"
    assert status in result.only(CHECK)["message"]
    earlier = result.by_target("extension.conflicts")[
        "Secret/azureml/sh.helm.release.v1.azureml.v1"
    ]
    assert earlier["status"] == "warn" and status in earlier["message"]


def test_the_payload_is_what_counts_when_the_label_disagrees(tmp_path: Path, kube_api: Any) -> None:
    """Helm reads the release it stored; a label edited by hand (or by a tool that only
    relabels) does not make a pending upgrade finished."""
    from support.kube_objects import helm_release_payload

    payload = helm_release_payload("azureml", "azureml", 2, "pending-upgrade", last_deployed=ago(4))
    api = kube_api(cluster(release(1, "superseded", 9), release(2, "deployed", 4, payload=payload)))
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "fail"
    assert "pending-upgrade" in finding["message"]
    assert finding["details"]["label_mismatch"] == [
        {
            "record": "sh.helm.release.v1.azureml.v2",
            "label": "deployed",
            "payload": "pending-upgrade",
        }
    ]


def test_a_record_that_does_not_decode_warns_and_never_passes(
    tmp_path: Path, kube_api: Any
) -> None:
    garbage = release(2, "deployed", 1, raw_release="H4sIAAAAAAAA/release-payload")
    not_gzip = release(3, "deployed", 1, raw_release="not base64 at all!")
    api = kube_api(cluster(release(1, "superseded", 9), garbage, not_gzip))
    result = run(tmp_path, api)
    findings = result.by_target(CHECK)
    broken = findings["Secret/azureml/sh.helm.release.v1.azureml.v2"]
    assert broken["status"] == "warn"
    assert "could not read Helm release record sh.helm.release.v1.azureml.v2" in broken["message"]
    assert "unverified" in broken["message"]
    assert broken["details"]["unreadable"]
    assert "not base64" in findings["Secret/azureml/sh.helm.release.v1.azureml.v3"]["message"]
    # the one record that reads is judged on its own and nothing else passes in its place
    assert findings["Secret/azureml/sh.helm.release.v1.azureml.v1"]["status"] == "pass"
    assert "H4sIAAAAAAAA" not in result.stdout


def test_a_deployed_release_and_no_release_pass(tmp_path: Path, kube_api: Any) -> None:
    api = kube_api(cluster(release(1, "superseded", 9), release(2, "deployed", 5)))
    finding = run(tmp_path / "deployed", api).only(CHECK)
    assert finding["status"] == "pass"
    assert "revision 2 is deployed (chart azureml-extension 1.1.60)" in finding["message"]
    empty = kube_api(cluster())
    assert run(tmp_path / "empty", empty).only(CHECK)["status"] == "pass"


def test_an_unreadable_history_is_a_warning_naming_the_permission(
    tmp_path: Path, kube_api: Any
) -> None:
    api = kube_api(cluster(release(1, "pending-upgrade", 3)))
    api.inject("secrets", verb="list", status=403)
    finding = run(tmp_path, api).only(CHECK)
    assert finding["status"] == "warn"
    assert "could not verify the Helm history" in finding["message"]
    assert "list secrets (in namespace azureml)" in finding["remediation"]
