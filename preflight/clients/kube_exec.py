"""Kubeconfig ``exec`` credential plugins (kubelogin, ``az``, cloud CLIs), run by preflight itself.

The ``kubernetes`` client runs a user's ``exec`` plugin with no timeout and leaves it running if
preflight ends first: a plugin waiting for a browser login would hang the run past ``--timeout``
and outlive it. So the plugin runs here instead, through ``preflight.subprocesses`` (own process
group, bounded, killed with its children), speaking the ``client.authentication.k8s.io``
ExecCredential protocol as kubectl does; the client then loads a one-context kubeconfig whose
user holds the token (or client certificate) the plugin gave.

A plugin that is missing, hangs, fails or prints something other than an ExecCredential is a
``KubeError("exec")`` naming the command (never its environment, never its output beyond the
first line of stderr, masked).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preflight import subprocesses
from preflight.clients.kube_errors import KubeError
from preflight.kubeconfig import candidate_paths
from preflight.subprocesses import display_name

API_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
    "client.authentication.k8s.io/v1alpha1",
)
#: user and cluster fields holding file paths, relative to the kubeconfig that names them
_USER_PATHS = ("client-certificate", "client-key", "tokenFile")
_CLUSTER_PATHS = ("certificate-authority",)
EXEC_REMEDY = (
    "run the plugin by hand to see why it gives no credential; for AKS with Microsoft Entra ID, "
    "sign in first (`az login`) and make the kubeconfig non-interactive with `kubelogin "
    "convert-kubeconfig -l azurecli` (`-l spn` or `-l msi` in pipelines); if it is only slow, "
    "raise --timeout"
)


@dataclass
class ExecPlan:
    """The chosen context's user has an ``exec`` stanza: what to run and what to load after."""

    context: str
    #: the kubeconfig file that defines the user (relative plugin paths start there)
    source: Path
    user_name: str
    exec: dict[str, Any]
    cluster: dict[str, Any]
    #: a one-context kubeconfig, file references made absolute; the user still has ``exec``
    config: dict[str, Any]
    argv: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return display_name([str(self.exec.get("command") or "")] + _args(self.exec))


@dataclass
class ExecCredential:
    token: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    expires: str | None = None

    def __repr__(self) -> str:  # never print the credential
        kind = "token" if self.token else "client certificate"
        return f"ExecCredential({kind}, expires={self.expires!r})"

    def secrets(self) -> list[str]:
        values = [self.token, self.client_key]
        return [v for v in values if v]


def exec_plan(kubeconfig: str | None, context: str | None) -> ExecPlan | None:
    """The exec plugin of the context's user, or None (no exec user, or a kubeconfig the
    ``kubernetes`` client should load and report on itself: missing, unreadable, not YAML)."""
    # on first use: PyYAML stays out of start-up (docs/ARCHITECTURE.md)
    import yaml

    merged: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {
        "contexts": {},
        "clusters": {},
        "users": {},
    }
    current: str | None = None
    for path in candidate_paths(kubeconfig):
        if not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
            return None
        if not isinstance(data, dict):
            continue
        if current is None and isinstance(data.get("current-context"), str):
            current = data["current-context"] or None
        for key, entries in merged.items():  # the first file naming an entry wins, as kubectl
            listed = data.get(key)
            for entry in listed if isinstance(listed, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    entries.setdefault(entry["name"], (entry, path))
    name = context or current
    if not name or name not in merged["contexts"]:
        return None
    context_body = merged["contexts"][name][0].get("context")
    if not isinstance(context_body, dict):
        return None
    user_name = context_body.get("user")
    if not isinstance(user_name, str) or user_name not in merged["users"]:
        return None
    user_entry, user_path = merged["users"][user_name]
    user = user_entry.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("exec"), dict):
        return None
    cluster_name = context_body.get("cluster")
    cluster: dict[str, Any] = {}
    if isinstance(cluster_name, str) and cluster_name in merged["clusters"]:
        cluster_entry, cluster_path = merged["clusters"][cluster_name]
        body = cluster_entry.get("cluster")
        if isinstance(body, dict):
            cluster = _absolute(body, _CLUSTER_PATHS, cluster_path.parent)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "contexts": [{"name": name, "context": dict(context_body)}],
        "clusters": [{"name": str(cluster_name or ""), "cluster": cluster}],
        "users": [{"name": user_name, "user": _absolute(user, _USER_PATHS, user_path.parent)}],
    }
    return ExecPlan(name, user_path, user_name, dict(user["exec"]), cluster, config)


def _absolute(body: dict[str, Any], keys: tuple[str, ...], base: Path) -> dict[str, Any]:
    copied = dict(body)
    for key in keys:
        value = copied.get(key)
        if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
            copied[key] = str(base / value)
    return copied


def _args(stanza: dict[str, Any]) -> list[str]:
    args = stanza.get("args") or []
    return [str(a) for a in args] if isinstance(args, list) else []


def resolve_command(plan: ExecPlan, env: dict[str, str]) -> str | None:
    """The plugin's executable: a command with a slash is relative to the kubeconfig's
    directory (as kubectl resolves it), a bare name is looked up on PATH."""
    command = str(plan.exec.get("command") or "").strip()
    if not command:
        return None
    expanded = os.path.expanduser(command)
    if os.sep in expanded or (os.altsep and os.altsep in expanded):
        candidate = Path(expanded)
        if not candidate.is_absolute():
            candidate = plan.source.parent / candidate
        return str(candidate) if candidate.is_file() else None
    return shutil.which(expanded, path=env.get("PATH", os.defpath))


def exec_info(plan: ExecPlan) -> dict[str, Any]:
    """KUBERNETES_EXEC_INFO: the ExecCredential a plugin reads (never interactive here)."""
    api_version = str(plan.exec.get("apiVersion") or API_VERSIONS[0])
    spec: dict[str, Any] = {"interactive": False}
    if plan.exec.get("provideClusterInfo"):
        cluster = plan.cluster
        info: dict[str, Any] = {"server": cluster.get("server", "")}
        ca_data = cluster.get("certificate-authority-data")
        if not ca_data and isinstance(cluster.get("certificate-authority"), str):
            try:
                raw = Path(cluster["certificate-authority"]).expanduser().read_bytes()
                ca_data = base64.b64encode(raw).decode("ascii")
            except OSError:
                ca_data = None
        if ca_data:
            info["certificate-authority-data"] = ca_data
        for key in ("tls-server-name", "insecure-skip-tls-verify", "proxy-url"):
            if key in cluster:
                info[key] = cluster[key]
        extensions = cluster.get("extensions")
        if isinstance(extensions, list):
            for extension in extensions:
                if (
                    isinstance(extension, dict)
                    and extension.get("name") == "client.authentication.k8s.io/exec"
                ):
                    info["config"] = extension.get("extension")
        spec["cluster"] = info
    return {"apiVersion": api_version, "kind": "ExecCredential", "spec": spec}


def run_plugin(
    plan: ExecPlan,
    *,
    timeout: float,
    deadline: float | None = None,
    cancel: Any = None,
    environ: dict[str, str] | None = None,
) -> ExecCredential:
    """Run the plan's plugin (bounded, in its own process group) and read its ExecCredential.
    Raises KubeError("exec") naming the command."""

    stanza = plan.exec
    name = plan.name
    api_version = str(stanza.get("apiVersion") or "")
    if api_version and api_version not in API_VERSIONS:
        raise _error(
            name,
            f"uses apiVersion {api_version!r}, which no client speaks "
            f"({', '.join(API_VERSIONS[:2])})",
            "set user.exec.apiVersion to client.authentication.k8s.io/v1 (or regenerate the "
            "kubeconfig: az aks get-credentials, then kubelogin convert-kubeconfig)",
        )
    if str(stanza.get("interactiveMode") or "") == "Always":
        raise _error(
            name,
            "asks for an interactive login (interactiveMode: Always), which a check run "
            "cannot give",
            "sign in beforehand and switch the kubeconfig to a non-interactive login: `az "
            "login`, then `kubelogin convert-kubeconfig -l azurecli` (`-l spn` / `-l msi` in "
            "pipelines)",
        )
    env = dict(os.environ if environ is None else environ)
    for item in stanza.get("env") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            env[item["name"]] = str(item.get("value") or "")
    env["KUBERNETES_EXEC_INFO"] = json.dumps(exec_info(plan))
    command = resolve_command(plan, env)
    if command is None:
        hint = str(stanza.get("installHint") or "").strip()
        remedy = (
            subprocesses.quote_line(hint, 300)
            if hint
            else "install it (for kubelogin: `az aks install-cli`) or fix user.exec.command "
            "in the kubeconfig"
        )
        raise _error(name, "was not found (on PATH, or relative to the kubeconfig)", remedy)
    argv = [command, *_args(stanza)]
    plan.argv = argv
    try:
        done = subprocesses.run(
            argv, timeout=timeout, env=env, deadline=deadline, cancel=cancel, name=name
        )
    except OSError as exc:
        raise _error(name, f"cannot be started: {exc.strerror or type(exc).__name__}") from None
    if not done.ok:
        why = done.failure().removeprefix(f"`{name}` ")
        if done.timed_out:
            why += ": it may be waiting for an interactive login"
        raise _error(name, why)
    return parse_credential(done.stdout, api_version, name)


def parse_credential(stdout: bytes, api_version: str, name: str) -> ExecCredential:
    """The plugin's ExecCredential, checked as client-go checks it. Its output is never quoted
    (it may hold a token); the message says only what is wrong with its shape."""
    try:
        data = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _error(name, "printed something that is not ExecCredential JSON") from None
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential":
        kind = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise _error(name, f"printed JSON that is not an ExecCredential (kind {kind!r})")
    if api_version and data.get("apiVersion") != api_version:
        raise _error(
            name,
            f"answered with apiVersion {data.get('apiVersion')!r} where the kubeconfig asks "
            f"for {api_version!r}",
        )
    status = data.get("status")
    if not isinstance(status, dict):
        raise _error(name, "printed an ExecCredential without a status")
    token = status.get("token")
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    expires = status.get("expirationTimestamp")
    expires = expires if isinstance(expires, str) else None
    if isinstance(token, str) and token:
        return ExecCredential(token=token, expires=expires)
    if isinstance(cert, str) and cert and isinstance(key, str) and key:
        return ExecCredential(client_certificate=cert, client_key=key, expires=expires)
    if (isinstance(cert, str) and cert) or (isinstance(key, str) and key):
        raise _error(name, "returned only a client certificate or key, not both")
    raise _error(name, "returned neither a token nor a client certificate and key")


def config_with(plan: ExecPlan, credential: ExecCredential) -> dict[str, Any]:
    """The plan's one-context kubeconfig with the user's ``exec`` replaced by ``credential``."""
    user = {
        k: v
        for k, v in plan.config["users"][0]["user"].items()
        if k not in ("exec", "auth-provider", "token", "tokenFile")
    }
    if credential.token:
        user["token"] = credential.token
    if credential.client_certificate and credential.client_key:
        for key in ("client-certificate", "client-key"):
            user.pop(key, None)
        user["client-certificate-data"] = _b64(credential.client_certificate)
        user["client-key-data"] = _b64(credential.client_key)
    config = dict(plan.config)
    config["users"] = [{"name": plan.user_name, "user": user}]
    return config


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode("utf-8")).decode("ascii")


def _error(name: str, why: str, remedy: str = EXEC_REMEDY) -> KubeError:
    error = KubeError(
        "exec", f"the kubeconfig's exec credential plugin `{name}` {why}", remedy=remedy
    )
    error.command = name
    return error
