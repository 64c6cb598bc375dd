"""One ``preflight run``: validate every input first (exit 2), run, write reports, gate.

All usage problems surface before any probe leaves the machine, so a typo never costs a
five-minute run. Once running, nothing the network does can stop the report from being written.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from preflight.errors import UsageError

EXIT_OK, EXIT_GATE = 0, 1


def ensure_writable(out: str) -> Path:
    """Create ``out`` and prove a file can be written there (else exit 2, before running)."""
    path = Path(out).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".preflight-write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"--out {out}: not writable ({exc.strerror or exc})") from None
    return path


def _known_parameters(profile: Any, registry: Any) -> dict[str, str]:
    known: dict[str, str] = {}
    for name, spec in profile.parameters.items():
        known[name] = spec.get("description", "")
    for name in profile.placeholders():
        known.setdefault(name, "host template parameter")
    for condition in profile.scenarios.values():
        known.setdefault(condition.partition("=")[0].strip(), "scenario condition")
    known.setdefault("api_server", "API server host (default: from the kubeconfig)")
    for name, text in registry.parameters().items():
        known.setdefault(name, text)
    return known


def validate_parameters(values: Mapping[str, str], registry: Any) -> None:
    """Run the checks' ``validators`` on the ``--set`` values they declare (UsageError).

    Every registered check's validators run, not only the selected ones: a malformed file
    named on the command line is bad input whatever the selection."""
    seen: set[tuple[str, int]] = set()
    for check in registry.checks.values():
        for key, validate in (getattr(check, "validators", None) or {}).items():
            value = values.get(key)
            if value in (None, "") or not callable(validate) or (key, id(validate)) in seen:
                continue
            seen.add((key, id(validate)))
            try:
                validate(value)
            except ValueError as exc:
                raise UsageError(f"--set {key}={value}: {_one_line(exc)}") from None
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise UsageError(f"--set {key}={value}: cannot read: {reason}") from None
            except Exception:  # noqa: BLE001, S112 - a validator's own bug is not bad input:
                continue  # the check meets the value again when it runs and reports there


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def prepare(params: Mapping[str, Any]) -> tuple[Any, Any, list[Any], dict[str, Any]]:
    """Turn raw CLI options into (Context, registry, selected checks, extras) or UsageError."""
    from preflight import registry as registry_module
    from preflight.cli import _positive, _split_formats
    from preflight.clients.dns import parse_nameserver
    from preflight.context import Context, RunOptions
    from preflight.kubeconfig import find_target
    from preflight.params import parse_extension_config, parse_set
    from preflight.profile import load_profile

    profile = load_profile(str(params.get("profile") or "azure-public"))
    registry = registry_module.load()
    checks = registry.select(tuple(params.get("check") or ()), tuple(params.get("skip") or ()))
    known = _known_parameters(profile, registry)
    values = parse_set(params.get("set") or (), known)
    validate_parameters(values, registry)
    timeout = _positive("--timeout", params.get("timeout", 5))
    deadline = _positive("--deadline", params.get("deadline", 300))
    formats = _split_formats(str(params.get("format") or "html,json"))
    nameservers = [parse_nameserver(n) for n in params.get("nameserver") or ()]
    ca_bundle = params.get("ca_bundle")
    if ca_bundle and not os.access(ca_bundle, os.R_OK):
        raise UsageError(f"--ca-bundle {ca_bundle}: not a readable file")
    settings = parse_extension_config(params.get("extension_config"))
    target = find_target(params.get("kubeconfig"), params.get("context"))
    sources = {k: "--set" for k in values}
    if target is not None and target.server_host and not values.get("api_server"):
        values["api_server"] = target.server_host
        sources["api_server"] = f"kubeconfig context {target.context}"
    options = RunOptions(
        profile=profile,
        params=values,
        extension_settings=settings,
        nameservers=nameservers,
        ca_bundle=ca_bundle,
        proxy=params.get("proxy"),
        timeout=timeout,
        deadline=deadline,
        kubeconfig=params.get("kubeconfig"),
        kube_context=params.get("context"),
        param_sources=sources,
    )
    context = Context(options)
    context.tls_context()  # unreadable or malformed --ca-bundle: exit 2 now, not per host
    _ = context.proxies  # malformed --proxy / HTTPS_PROXY: exit 2 now
    extras = {
        "formats": formats,
        "target": target,
        "out": ensure_writable(str(params.get("out") or "preflight-report")),
    }
    return context, registry, checks, extras


def run_session(params: Mapping[str, Any]) -> int:
    from rich.console import Console

    from preflight import report
    from preflight.model import gate_holds
    from preflight.redact import Redactor, is_secret_key
    from preflight.reports import write_reports

    context, registry, checks, extras = prepare(params)
    no_color = bool(params.get("no_color")) or "NO_COLOR" in os.environ
    progress = Console(stderr=True, no_color=no_color) if sys.stderr.isatty() else None
    run_id = report.new_run_id()
    started = time.time()

    def on_done(check: Any, findings: list[Any]) -> None:
        if progress is None:
            return
        worst = max((f.status for f in findings), key=lambda s: s.severity)
        progress.print(
            f"  {check.id}: {len(findings)} finding(s), worst {worst}",
            highlight=False,
            markup=False,
        )

    if progress is not None:
        progress.print(
            f"preflight {context.profile.name}: running {len(checks)} check(s)...",
            highlight=False,
            markup=False,
        )
    findings = asyncio.run(_run_bounded(context, checks, on_done))
    findings += _broken_plugins(registry, selected_all=not params.get("check"))
    summaries = _summaries(context, registry, findings)
    finished = time.time()

    secrets = [v for k, v in context.params.items() if is_secret_key(k)]
    secrets += [v for k, v in context.extension_settings.items() if is_secret_key(k)]
    token = getattr(context._arm, "_token", None) if context._arm is not None else None
    if token is not None:  # an opaque token has no shape to mask: mask its value, wherever
        secrets.append(token.value)
    redactor = Redactor(secrets)
    target = extras["target"]
    document = report.build(
        run_id=run_id,
        started=started,
        finished=finished,
        profile={"name": context.profile.name, "cloud": context.profile.cloud},
        parameters=context.params,
        target=_target(context, target),
        findings=findings,
        redactor=redactor,
        extra={**_extras(context), **summaries},
    )
    paths = write_reports(document, extras["out"], extras["formats"])
    if not params.get("quiet"):
        from preflight.reports.terminal import print_summary

        width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "140") or 140)
        print_summary(document, Console(no_color=no_color, soft_wrap=False, width=width))
        for path in paths:
            print(f"wrote {path}")
    verdict = document["summary"]["verdict"]
    return EXIT_OK if gate_holds(verdict, str(params.get("fail_on") or "fail")) else EXIT_GATE


def _broken_plugins(registry: Any, selected_all: bool) -> list[Any]:
    """A plugin that failed to load: error when every check was asked for (its checks are
    missing from the verdict), warn when --check narrowed the run anyway."""
    from preflight.model import Finding, Status

    status = Status.ERROR if selected_all else Status.WARN
    return [
        Finding(
            status,
            None,
            f"plugin {name!r} failed to load: {reason}",
            "fix or uninstall the plugin package (see `preflight checks`)",
            check=f"plugin.{name}",
            title=f"Plugin {name}",
            category="other",
        )
        for name, reason in registry.broken
    ]


CORE_KEYS = {"schema", "tool", "run", "profile", "parameters", "target", "summary", "results"}


def _summaries(context: Any, registry: Any, findings: list[Any]) -> dict[str, Any]:
    """Report keys contributed by Summary plugins; one that fails becomes an error finding."""
    from preflight.context import internal_error

    extra: dict[str, Any] = {}
    for summary in registry.summaries:
        key = getattr(summary, "key", "")
        try:
            if key in CORE_KEYS or not key:
                raise ValueError(f"report key {key!r} is reserved")
            value = summary.summarize(context, list(findings))
        except Exception as exc:  # noqa: BLE001 - a summary's bug must not lose the report
            failure = internal_error(None, exc)
            failure.check, failure.title, failure.category = f"summary.{key}", key, "other"
            findings.append(failure)
            continue
        if value is not None:
            extra[key] = value
    return extra


def _target(context: Any, target: Any) -> dict[str, Any] | None:
    """The cluster the run looked at (null when none was given), with its version if known."""
    probed = context.kube.probed if context._kube is not None else None
    if target is None and probed is None:
        return None
    version = (probed.version.get("gitVersion") if probed is not None else None) or None
    return {
        "context": (target.context if target else None) or (probed.context if probed else None),
        "api_server": (target.server if target else None) or (probed.server if probed else None),
        "kubernetes_version": version,
    }


def _extras(context: Any) -> dict[str, Any]:
    settings = dict(context.extension_settings.items())
    extra: dict[str, Any] = {}
    if settings:
        extra["extension_settings"] = settings
    return extra


async def _run_bounded(context: Any, checks: list[Any], on_done: Any) -> list[Any]:
    """The runner honours the deadline per check; this is the last net (deadline + 5 s)."""
    from preflight.runner import run_checks

    task = asyncio.ensure_future(run_checks(context, checks, on_done))
    try:
        return await asyncio.wait_for(asyncio.shield(task), context.options.deadline + 5)
    except TimeoutError:
        from preflight.model import Finding, Status

        return [
            Finding(
                Status.ERROR,
                None,
                "the run did not finish within its deadline",
                "raise --deadline",
                check=c.id,
                title=c.title,
                category=c.category,
            )
            for c in checks
        ]
    finally:
        if context._arm is not None:  # close ARM connections inside the loop that opened them
            await context._arm.aclose()
