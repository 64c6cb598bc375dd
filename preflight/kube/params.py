"""The ``--set`` parameters of preflight's pods (image, pull secrets, node placement, proxy),
parsed and validated before a run starts, so a typo is exit code 2, not a pod that never runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from preflight.clients.proxy import Proxy
from preflight.kube.image import DEFAULT_IMAGE
from preflight.kube.labels import NAME_RE

#: where ``--set image_pull_secrets=NAME`` Secrets are copied from (deploy/rbac-runner.yaml)
PULL_SECRETS_NAMESPACE = "preflight"


#: ``--set`` parameters the runtime reads (registered with the known parameters of every run)
PARAMETERS: dict[str, str] = {
    "probe_image": f"image of preflight's in-cluster pods (default {DEFAULT_IMAGE}; build it "
    "and push it to a registry the nodes can pull from)",
    "image_pull_secrets": "comma list of pull Secrets for probe_image, NAME (in namespace "
    f"{PULL_SECRETS_NAMESPACE}) or NAMESPACE/NAME; copied into the run's namespace",
    "probe_node_selector": "comma list of key=value node labels preflight's pods must run on",
    "probe_tolerations": "comma list of taints preflight's pods tolerate: key[=value][:Effect], "
    "or * for every taint",
    "probe_proxy": "HTTP(S) proxy URL for preflight's probe pods, or none (default: whatever "
    "the platform injects into pods, e.g. AKS's httpProxyConfig; never this machine's proxy)",
}


_EFFECTS = {e.lower(): e for e in ("NoSchedule", "PreferNoSchedule", "NoExecute")}


LABEL_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def parse_node_selector(text: str | None) -> dict[str, str]:
    """``"agentpool=gpu,kubernetes.io/os=linux"`` -> dict (ValueError with the bad entry)."""
    selector: dict[str, str] = {}
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not LABEL_KEY_RE.match(key) or not LABEL_VALUE_RE.match(value):
            raise ValueError(f"{item!r} is not a node label key=value")
        selector[key] = value
    return selector


def parse_tolerations(text: str | None) -> list[dict[str, str]]:
    """``"sku=gpu:NoSchedule,dedicated,*"`` -> Kubernetes tolerations.

    ``key=value:Effect`` tolerates that taint; ``key=value`` any effect of it; ``key`` or
    ``key:Effect`` any value; ``*`` every taint."""
    tolerations: list[dict[str, str]] = []
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        if item == "*":
            tolerations.append({"operator": "Exists"})
            continue
        body, effect = item, ""
        head, colon, tail = item.rpartition(":")
        if colon:
            if tail.strip().lower() not in _EFFECTS:
                raise ValueError(
                    f"{item!r}: unknown taint effect {tail!r} (NoSchedule, PreferNoSchedule, "
                    "NoExecute)"
                )
            body, effect = head, _EFFECTS[tail.strip().lower()]
        key, eq, value = body.partition("=")
        key, value = key.strip(), value.strip()
        if not key or not LABEL_KEY_RE.match(key) or not LABEL_VALUE_RE.match(value):
            raise ValueError(f"{item!r} is not a toleration key[=value][:Effect]")
        toleration = {"key": key, "operator": "Equal" if eq else "Exists"}
        if eq:
            toleration["value"] = value
        if effect:
            toleration["effect"] = effect
        tolerations.append(toleration)
    return tolerations


def parse_pull_secrets(text: str | None) -> list[tuple[str, str]]:
    """``"regcred,infra/mirror"`` -> [(namespace, name)] (bare names: namespace preflight)."""
    secrets: list[tuple[str, str]] = []
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        namespace, slash, name = item.rpartition("/")
        namespace = namespace if slash else PULL_SECRETS_NAMESPACE
        for part in (namespace, name):
            if not NAME_RE.match(part) or len(part) > 253:
                raise ValueError(f"{item!r} is not a Secret name (or NAMESPACE/NAME)")
        secrets.append((namespace, name))
    return secrets


def validate_parameters(values: Mapping[str, str]) -> None:
    """Check the runtime's ``--set`` values before a run starts (ValueError: one line)."""
    image = values.get("probe_image")
    if image is not None and (not image.strip() or any(c.isspace() for c in image.strip())):
        raise ValueError(f"--set probe_image={image}: not an image reference")
    for key, parse in (
        ("probe_node_selector", parse_node_selector),
        ("probe_tolerations", parse_tolerations),
        ("image_pull_secrets", parse_pull_secrets),
    ):
        if values.get(key):
            try:
                parse(values[key])
            except ValueError as exc:
                raise ValueError(f"--set {key}={values[key]}: {exc}") from None
    proxy = values.get("probe_proxy")
    if proxy and proxy.strip().lower() != "none":
        Proxy.from_url(proxy, "--set probe_proxy")  # UsageError with the reason
