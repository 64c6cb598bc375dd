"""``extension.helm-history``: the Helm history of namespace ``azureml`` holds no revision stuck in
``pending-install``, ``pending-upgrade`` or ``pending-rollback``, and every release record reads.

Why (the extension's troubleshooting page,
https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-kubernetes-extension):

- "Error: earlier operation for the helm chart is still in progress": while a release's latest
  revision is pending, Helm refuses the next install, upgrade or rollback; the page says to wait
  about an hour. A revision pending for longer than that is an operation that died (the
  extension operator was restarted, the node went away): it stays pending until its record is
  deleted, so this check fails it with the page's cleanup command.
- "Extension-operator pod ... is crashing due to OOMKill": "There is a Helm history limit of 10
  revisions, but this limit applies only to revisions in a non-transient state. If you see
  multiple revisions in a pending-rollback or pending-upgrade state ... clean up": every pending
  revision of any age is named with its ``kubectl delete secret`` command.

Helm's records (checks/_shared/helm_release.py) are read in full, not only by their labels
(``extension.conflicts`` reads the labels of the latest revision): the payload's status is what
Helm itself reads, and a record that does not decode is a warning naming what could not be read,
never a pass. Runs before and after the install: a stuck upgrade breaks an installed extension.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from preflight.api import Check, Context, Finding, Status
from preflight.checks._shared.helm_release import (
    PENDING,
    ReleaseRecord,
    read_record,
    release_secrets,
)
from preflight.checks._shared.kube_reads import age_text, unverified
from preflight.checks._shared.plan import DOCS_TROUBLESHOOT, EXTENSION_NAME_PARAM, NAMESPACE

DOCS_IN_PROGRESS = (
    DOCS_TROUBLESHOOT + "#error-earlier-operation-for-the-helm-chart-is-still-in-progress"
)
DOCS_OOM = (
    DOCS_TROUBLESHOOT
    + "#extension-operator-pod-in-azure-arckube-system-namespace-is-crashing-due-to-oomkill"
)
#: the troubleshooting page's "wait for about an hour and try again"
STUCK_AFTER = dt.timedelta(hours=1)


def delete_command(record: ReleaseRecord) -> str:
    return f"kubectl delete secret -n {record.namespace or NAMESPACE} {record.secret}"


class HelmHistory(Check):
    """No revision of a release in azureml is stuck pending, and every record reads (module
    doc)."""

    id = "extension.helm-history"
    title = f"No Helm revision in namespace {NAMESPACE} is stuck pending"
    category = "extension"
    needs = ("kube",)
    docs = DOCS_IN_PROGRESS
    parameters = EXTENSION_NAME_PARAM

    def run(self, ctx: Context) -> list[Finding]:
        read = release_secrets(ctx)
        if not read.ok:
            return [unverified(f"Namespace/{NAMESPACE}", "the Helm history", [read])]
        records = [read_record(secret) for secret in read.items]
        if not records:
            return [
                Finding.passed(
                    f"Namespace/{NAMESPACE}",
                    f"no Helm release records in namespace {NAMESPACE}: no earlier operation can "
                    "be pending",
                    read=f"list secrets -n {NAMESPACE} -l owner=helm",
                    records=0,
                )
            ]
        now = dt.datetime.now(dt.UTC)
        findings = [self._unreadable(r) for r in records if r.problem]
        by_release: dict[str, list[ReleaseRecord]] = {}
        for record in records:
            if not record.problem:
                by_release.setdefault(record.name or "?", []).append(record)
        for name, revisions in sorted(by_release.items()):
            revisions.sort(key=lambda r: r.revision or 0)
            findings.append(self._release(name, revisions, now))
        return findings

    def _unreadable(self, record: ReleaseRecord) -> Finding:
        label = f", labelled {record.label_status}" if record.label_status else ""
        return Finding.warned(
            f"Secret/{record.namespace}/{record.secret}",
            f"could not read Helm release record {record.secret} (release "
            f"{record.name or '?'!r}, revision {record.revision}{label}): {record.problem}; "
            "whether this revision blocks the next install or upgrade is unverified",
            f"compare with `helm history {record.name or '<release>'} -n {record.namespace}`; a "
            "record Helm cannot read either is corrupt, and the troubleshooting guide removes "
            f"such records with: {delete_command(record)}",
            DOCS_TROUBLESHOOT,
            **record.summary(),
            release=record.name or None,
        )

    def _release(self, name: str, revisions: list[ReleaseRecord], now: dt.datetime) -> Finding:
        latest = revisions[-1]
        pending = [r for r in revisions if r.status in PENDING]
        commands = [delete_command(r) for r in pending]
        details: dict[str, Any] = {
            "release": name,
            "latest": latest.summary(),
            "revisions": len(revisions),
            "pending": [r.summary() for r in pending],
        }
        mismatched = [r for r in revisions if r.status_mismatch]
        if mismatched:
            details["label_mismatch"] = [
                {"record": r.secret, "label": r.label_status, "payload": r.status}
                for r in mismatched
            ]
        target = f"Secret/{latest.namespace}/{latest.secret}"
        chart = latest.payload.get("chart")
        chart_text = (
            f" (chart {chart} {latest.payload.get('chart_version') or ''})" if chart else ""
        )
        if not pending:
            if mismatched:
                first = mismatched[0]
                return Finding.warned(
                    target,
                    f"release {name!r}: the label of {first.secret} says {first.label_status} but "
                    f"the release it holds is {first.status}; Helm goes by the release, tools "
                    "that list by label do not",
                    f"look at `helm history {name} -n {latest.namespace}`; if a revision there "
                    "is pending, remove it as the troubleshooting guide shows",
                    DOCS_TROUBLESHOOT,
                    **details,
                )
            return Finding.passed(
                target,
                f"release {name!r}: revision {latest.revision} is {latest.status}{chart_text}; "
                f"no pending revision among {len(revisions)}",
                **details,
            )
        details["commands"] = commands
        stuck = latest.status in PENDING
        since = latest.last_change()
        age = now - since if since is not None else None
        if age is not None:
            details["pending_for"] = age_text(age)
        listing = ", ".join(f"v{r.revision} {r.status}" for r in pending)
        oom = (
            f"; {len(pending)} pending revisions are past Helm's history limit, which the "
            "extension operator loads and which can get it OOM-killed"
            if len(pending) > 1
            else ""
        )
        cleanup = (
            "remove the pending records as the troubleshooting guide's script does: "
            + "; ".join(commands)
        )
        if not stuck:
            return Finding.warned(
                target,
                f"release {name!r} is {latest.status} at revision {latest.revision}, but its "
                f"history keeps pending revisions ({listing}){oom}",
                cleanup,
                DOCS_OOM,
                **details,
            )
        blocked = (
            f"release {name!r}: revision {latest.revision} is {latest.status}{chart_text}; until "
            "it finishes, an install or update fails with 'earlier operation for the helm chart "
            "is still in progress'"
        )
        if age is not None and age > STUCK_AFTER:
            return Finding(
                Status.FAIL,
                target,
                f"{blocked}, and it has been pending for {age_text(age)} (the guide waits about "
                f"an hour): the operation is no longer running{oom}",
                cleanup + f"; then retry (pending revisions: {listing})",
                DOCS_IN_PROGRESS,
                details,
            )
        when = f"for {age_text(age)}" if age is not None else "since an unknown time"
        return Finding.warned(
            target,
            f"{blocked}; it has been pending {when}{oom}",
            "wait about an hour for the operation to finish and retry; if the revision is "
            f"still pending then, {cleanup}",
            DOCS_IN_PROGRESS,
            **details,
        )


CHECKS = [HelmHistory()]
