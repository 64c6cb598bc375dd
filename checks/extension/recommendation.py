"""The report's ``recommendation``: the ``az k8s-extension create`` command the findings imply.

Any check (built-in or plugin) proposes a setting by putting ``details["recommend"] =
{"<Setting>": "<value>"}`` on a finding; a value of None means "leave the setting out". This
summary merges every proposal over the planned settings (``--extension-config``): keys it does
not change keep the user's value, every known key takes the spelling the extension reads (it
matches keys exactly: ``InferenceRouterHA=False`` is ignored, MicrosoftDocs/azure-ai-docs pull
request 458), and the protected settings (the PEM files, connection strings) go to
``--config-protected``. The command stays one line, each setting once.

Two findings may propose different values for one key (e.g. one wants
``installNvidiaDevicePlugin=True`` for GPU nodes without a device plugin, another ``False``
because one is already installed). The choice, said in ``reasons``:

1. the proposal of the more severe finding wins: a ``fail`` is what breaks the install;
2. at equal severity, the value that installs less wins (leaving the setting out, then
   ``False``): a component installed twice breaks the Helm release, while one left out can be
   added later with ``az k8s-extension update``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.api import Context, Finding, Status, Summary
from preflight.checks._shared.plan import CLUSTER_TYPES, EXTENSION_TYPE, spec_for
from preflight.checks.extension.settings_keys import known_key, spelling

SETTINGS_CHECK = "extension.config"


@dataclass(frozen=True)
class Proposal:
    setting: str  # documented spelling where the setting is documented
    value: str | None  # None: leave the setting out
    finding: Finding

    @property
    def shown(self) -> str:
        return "(left out)" if self.value is None else self.value


def canonical(key: str) -> str:
    """The spelling the extension reads (documented and CLI-written keys); else as given."""
    return spelling(key) or key


def _protected(key: str) -> bool:
    spec = spec_for(key)
    known = known_key(key)
    return (spec is not None and spec.protected) or (known is not None and known.protected)


def normalized(key: str, value: str) -> str:
    """A proposed value as the docs write it: ``false`` -> ``False``, ``loadbalancer`` ->
    ``loadBalancer``; anything else as proposed."""
    spec = spec_for(key)
    lowered = value.strip().lower()
    if spec is not None and spec.kind == "bool" and lowered in ("true", "false"):
        return lowered.capitalize()
    if spec is not None and spec.kind == "choice":
        return next((c for c in spec.choices if c.lower() == lowered), value)
    return value


def _same(key: str, a: str | None, b: str | None) -> bool:
    """Equal values: booleans and choices case-insensitively, as the extension reads them."""
    if a is None or b is None:
        return a is b
    spec = spec_for(key)
    if spec is not None and spec.kind in ("bool", "choice"):
        return a.strip().lower() == b.strip().lower()
    return a == b


def _installs_less(value: str | None) -> int:
    """Sort key: leaving out first, then False, then anything else."""
    if value is None:
        return 0
    return 1 if value.strip().lower() == "false" else 2


def proposals_of(findings: list[Finding]) -> dict[str, list[Proposal]]:
    """Every ``details["recommend"]`` of every finding, by setting (lower-case)."""
    found: dict[str, list[Proposal]] = {}
    for finding in findings:
        wanted = finding.details.get("recommend") if isinstance(finding.details, Mapping) else None
        if not isinstance(wanted, Mapping):
            continue
        for key, value in wanted.items():
            if not isinstance(key, str) or not key.strip():
                continue
            setting = canonical(key.strip())
            text = None if value is None else normalized(setting, str(value))
            found.setdefault(setting.lower(), []).append(Proposal(setting, text, finding))
    return found


def decide(options: list[Proposal]) -> tuple[Proposal, str | None]:
    """The proposal to follow for one setting, and a reason line when proposals conflicted."""
    ranked = sorted(
        options, key=lambda p: (-Status(p.finding.status).severity, _installs_less(p.value))
    )
    chosen = ranked[0]
    others = [p for p in ranked[1:] if not _same(chosen.setting, p.value, chosen.value)]
    if not others:
        return chosen, None
    offered = "; ".join(
        f"{p.finding.check or 'a check'} ({p.finding.status}) wants {p.setting}={p.shown}"
        for p in ranked
    )
    return chosen, (
        f"conflicting recommendations for {chosen.setting}: {offered}. Chose {chosen.shown}: "
        "the more severe finding's fix wins, and at equal severity the value that installs "
        "less (a component installed twice breaks the install; one left out can be added "
        "later with az k8s-extension update)"
    )


def _token(key: str, value: str) -> str:
    return shlex.quote(f"{key}={value}")


class Recommendation(Summary):
    """The corrected ``az k8s-extension create`` command, in every report."""

    key = "recommendation"
    #: the command to create the extension; after the install it is already made
    phases = ("before",)

    def summarize(self, ctx: Context, findings: list[Finding]) -> dict[str, Any] | None:
        planned = ctx.extension_settings
        proposals = proposals_of(findings)
        if not planned and not proposals:
            return None
        reasons: list[str] = []
        changes: list[dict[str, Any]] = []
        decisions: dict[str, Proposal] = {}
        for lowered, options in proposals.items():
            decided, conflict = decide(options)
            decisions[lowered] = decided
            if conflict:
                reasons.append(conflict)

        def change(
            p: Proposal, before: str | None, default: str | None = None, given_as: str = ""
        ) -> None:
            entry = {
                "setting": p.setting,
                "from": before,
                "to": p.value,
                "because": p.finding.message,
                "check": p.finding.check,
                "status": str(p.finding.status),
            }
            was = before if before is not None else f"{default} (default)" if default else "unset"
            if default is not None and before is None:
                entry["default"] = default
            if given_as and given_as != p.setting:
                entry["given_as"] = given_as
                was = f"{given_as}={was}"
            changes.append(entry)
            reasons.append(
                f"{p.setting}: {was} -> {p.shown}, because {p.finding.message} "
                f"({p.finding.check or 'a check'})"
            )

        public: list[tuple[str, str]] = []
        protected: list[tuple[str, str]] = []
        moved: list[str] = []
        for key, value in planned.items():
            right = canonical(key)
            chosen = decisions.pop(right.lower()) if right.lower() in decisions else None
            if chosen is not None and (
                not _same(key, chosen.value, value) or chosen.value is None or right != key
            ):
                change(chosen, value, given_as=key)
                if chosen.value is None:
                    continue
                key, value = chosen.setting, chosen.value
            elif right != key:
                reasons.append(
                    f"{key} written {right}: the extension reads its settings case-sensitively "
                    "and ignores any other spelling"
                )
                key = right
            if _protected(key):
                known = known_key(key)
                if known is not None and known.protected:
                    value = "<secret>"  # a connection string or key: never printed
                protected.append((key, value))
                moved.append(key)
            else:
                public.append((key, value))
        for added in decisions.values():
            spec = spec_for(added.setting)
            default = spec.default if spec else None
            if added.value is None or _same(added.setting, added.value, default):
                continue  # already so without saying it
            change(added, None, default)
            target = protected if _protected(added.setting) else public
            target.append((added.setting, added.value))
        if moved:
            reasons.append(
                f"{', '.join(moved)} moved from --config to --config-protected (protected "
                "settings: the CLI reads the files and keeps their content out of the "
                "extension's public configuration)"
            )
        unresolved = [
            f"{f.target}: {f.message}"
            for f in findings
            if f.check == SETTINGS_CHECK and f.status == Status.FAIL and not _recommends(f)
        ]
        reasons += [f"still to fix by hand: {line}" for line in unresolved]
        if not planned:
            reasons.append(
                "no --extension-config was given: add the settings you plan (enableTraining=True "
                "and/or enableInference=True with what they need) to this command"
            )

        raw_type = (ctx.param("cluster_type") or "aks").strip().lower()
        cluster_type = CLUSTER_TYPES.get(raw_type, CLUSTER_TYPES["aks"])
        words = [
            "az k8s-extension create",
            "--name",
            shlex.quote(ctx.param("extension_name") or "azureml"),
            "--extension-type",
            EXTENSION_TYPE,
        ]
        if public:
            words += ["--config", *(_token(k, v) for k, v in public)]
        if protected:
            words += ["--config-protected", *(_token(k, v) for k, v in protected)]
        words += [
            "--cluster-type",
            cluster_type,
            "--cluster-name",
            shlex.quote(ctx.param("cluster_name") or "<your-cluster>"),
            "--resource-group",
            shlex.quote(ctx.param("resource_group") or "<your-RG>"),
            "--scope",
            "cluster",
        ]
        return {
            "command": " ".join(words),
            "changes": changes,
            "reasons": reasons,
            "cluster_type": cluster_type,
            "unresolved": unresolved,
        }


def _recommends(finding: Finding) -> bool:
    return isinstance(finding.details.get("recommend"), Mapping)


CHECKS = [Recommendation()]
