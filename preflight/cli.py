"""The command line (DESIGN.md, "CLI contract"). Heavy modules are imported inside commands so
that ``preflight --help`` and ``preflight checks`` answer at once."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from preflight import __version__
from preflight.errors import UsageError

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2
FORMAT_CHOICES = ("html", "json", "junit", "md")

RUN_HELP = """Check that a cluster and its network are ready for the Azure ML extension.

\b
Examples:
  preflight run --profile azure-china --set region=chinaeast2 --set acr=myacr
  preflight run --nameserver 10.0.0.4 --proxy http://proxy.corp:3128 --ca-bundle corp-ca.pem
  preflight run --check 'dns.*' --check 'egress.*' --format html,json,junit --fail-on warn

Exit codes: 0 the gate holds, 1 the gate fails, 2 usage or configuration error.
Reports go to --out (report.json, report.html, junit.xml, summary.md)."""


class _Group(click.Group):
    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        formatter.write_text(
            "Start with `preflight profiles` to see the clouds, then `preflight run --profile "
            "NAME --set region=...`. Docs: README.md."
        )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="preflight")
def cli() -> None:
    """preflight: is this cluster ready for the Azure Machine Learning extension?

    Checks DNS and egress to every host the extension needs (public Azure, Azure China,
    Azure US Government), the cluster, the planned extension settings and GPUs, before
    `az k8s-extension create` does.
    """


def _split_formats(value: str) -> list[str]:
    formats = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMAT_CHOICES]
    if bad or not formats:
        raise UsageError(
            f"--format {value!r}: choose from {', '.join(FORMAT_CHOICES)} (comma-separated)"
        )
    return list(dict.fromkeys(formats))


def _positive(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} {value!r}: expected a number of seconds") from None
    if not number > 0 or number != number or number == float("inf"):
        raise UsageError(f"{name} {value!r}: must be a positive number of seconds")
    return number


# Options that --config FILE may hold, with their flag names (flags win over the file).
CONFIG_KEYS = {
    "profile": "--profile",
    "set": "--set",
    "config": None,
    "kubeconfig": "--kubeconfig",
    "context": "--context",
    "check": "--check",
    "skip": "--skip",
    "nameserver": "--nameserver",
    "ca_bundle": "--ca-bundle",
    "proxy": "--proxy",
    "timeout": "--timeout",
    "deadline": "--deadline",
    "extension_config": "--extension-config",
    "out": "--out",
    "format": "--format",
    "fail_on": "--fail-on",
    "quiet": "--quiet",
    "no_color": "--no-color",
}


def _apply_config(ctx: click.Context, params: dict[str, Any]) -> None:
    """Fill options not given on the command line from the --config YAML file."""
    path = params.get("config")
    if not path:
        return
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--config {path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise UsageError(f"--config {where}: malformed YAML") from None
    if data is None:
        return
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping of option: value")
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        if key not in CONFIG_KEYS or key == "config":
            from preflight.errors import nearest

            hint = nearest(key, [k for k in CONFIG_KEYS if k != "config"])
            did = f" (did you mean {hint}?)" if hint else ""
            raise UsageError(f"--config {path}: unknown option {raw_key!r}{did}")
        source = ctx.get_parameter_source(key)
        if source not in (None, click.core.ParameterSource.DEFAULT):
            continue  # the command line wins
        if key == "set" and isinstance(value, dict):
            value = [f"{k}={v}" for k, v in value.items()]
        if key in ("set", "check", "skip", "nameserver"):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise UsageError(f"--config {path}: {raw_key} must be a list")
            value = tuple(str(v) for v in value)
        elif key == "format" and isinstance(value, list):
            value = ",".join(str(v) for v in value)
        params[key] = value


@cli.command("run", help=RUN_HELP)
@click.option(
    "--profile",
    default="azure-public",
    show_default=True,
    metavar="NAME|PATH",
    help="Cloud profile: azure-public, azure-china, azure-usgov, or a YAML file.",
)
@click.option(
    "--set",
    "set_",
    multiple=True,
    metavar="KEY=VALUE",
    help="Profile parameter, repeatable: region, acr, storage_account, api_server, ...",
)
@click.option(
    "--config", type=str, metavar="FILE", help="YAML file holding any of these options (flags win)."
)
@click.option(
    "--kubeconfig", metavar="PATH", help="Kubeconfig (default $KUBECONFIG, ~/.kube/config)."
)
@click.option("--context", metavar="NAME", help="Kubeconfig context (default: current-context).")
@click.option(
    "--check", multiple=True, metavar="GLOB", help="Run only checks matching, e.g. 'dns.*'."
)
@click.option("--skip", multiple=True, metavar="GLOB", help="Leave out checks matching.")
@click.option(
    "--nameserver",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Resolve with these DNS servers instead of the system resolver.",
)
@click.option(
    "--ca-bundle",
    metavar="PATH",
    help="Extra CA certificates (PEM) trusted for all outbound TLS, e.g. an inspecting proxy's.",
)
@click.option(
    "--proxy",
    metavar="URL",
    help="HTTP proxy for egress (default HTTPS_PROXY/HTTP_PROXY, honouring NO_PROXY).",
)
@click.option(
    "--timeout",
    default="5",
    show_default=True,
    metavar="SECONDS",
    help="Bound on each network step of a probe.",
)
@click.option(
    "--deadline",
    default="300",
    show_default=True,
    metavar="SECONDS",
    help="Bound on the whole run; unfinished checks end as error.",
)
@click.option(
    "--extension-config",
    metavar="TEXT",
    help='Planned `az k8s-extension create --config` settings, "k=v k=v".',
)
@click.option(
    "--out",
    default="preflight-report",
    show_default=True,
    metavar="DIR",
    help="Where report files go.",
)
@click.option(
    "--format",
    "format_",
    default="html,json",
    show_default=True,
    metavar="LIST",
    help="Comma list of html,json,junit,md.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["fail", "warn"]),
    default="fail",
    show_default=True,
    help="Exit 1 on this verdict or worse.",
)
@click.option(
    "--quiet", is_flag=True, help="No summary table on stdout (exit code and files only)."
)
@click.option("--no-color", is_flag=True, help="No colours in terminal output.")
@click.pass_context
def run_command(ctx: click.Context, **params: Any) -> None:
    params["set"] = params.pop("set_")
    params["format"] = params.pop("format_")
    _apply_config(ctx, params)
    from preflight.session import run_session

    code = run_session(params)
    ctx.exit(code)


@cli.command("checks")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON list of {id, title, category, needs}."
)
def checks_command(as_json: bool) -> None:
    """List the checks this installation has (built-in and plugins)."""
    from preflight import registry

    reg = registry.load()
    checks = reg.select()
    if as_json:
        import json

        click.echo(json.dumps([c.describe() for c in checks], indent=2))
    else:
        width = max((len(c.id) for c in checks), default=10)
        for check in checks:
            needs = f"  [needs {', '.join(check.needs)}]" if check.needs else ""
            click.echo(f"{check.id:<{width}}  {check.category:<12}  {check.title}{needs}")
    for name, reason in reg.broken:
        click.echo(f"preflight: warning: plugin {name!r} could not be loaded: {reason}", err=True)


@cli.command("profiles")
@click.argument("name", required=False)
@click.option(
    "--set",
    "set_",
    multiple=True,
    metavar="KEY=VALUE",
    help="Parameters used to resolve host templates.",
)
def profiles_command(name: str | None, set_: Sequence[str]) -> None:
    """List the cloud profiles, or show one with its hosts resolved."""
    from preflight.profile import builtin_names, load_profile

    if not name:
        for profile_name in builtin_names():
            profile = load_profile(profile_name)
            click.echo(
                f"{profile.name:<14} {profile.cloud:<18} {len(profile.hosts):>3} hosts  "
                f"{profile.description}"
            )
        return
    from preflight.context import Context, RunOptions
    from preflight.params import parse_set

    profile = load_profile(name)
    known = {**{p: "" for p in profile.parameters}, **{p: "" for p in profile.placeholders()}}
    params = parse_set(set_, known)
    context = Context(RunOptions(profile=profile, params=params))
    click.echo(f"{profile.name} ({profile.cloud}): {profile.description}")
    if profile.confidence:
        click.echo(f"confidence: {profile.confidence}")
    for key, value in profile.endpoints.items():
        click.echo(f"  endpoint {key}: {value}")
    click.echo("")
    for host in context.hosts():
        shown = host.fqdn or f"{host.spec.template}  (set {', '.join(host.missing)})"
        need = "required" if host.required else "optional"
        click.echo(
            f"  {shown}:{host.port}  [{need}; {', '.join(host.spec.needed_for)}]  "
            f"{host.spec.purpose}"
        )


@cli.command("report")
@click.argument("run_json", metavar="RUN.json")
@click.option(
    "--format",
    "format_",
    default="html",
    show_default=True,
    metavar="LIST",
    help="Comma list of html,json,junit,md.",
)
@click.option("--out", default="preflight-report", show_default=True, metavar="DIR")
def report_command(run_json: str, format_: str, out: str) -> None:
    """Re-render a saved run (report.json) into other formats."""
    from preflight.reports import write_reports
    from preflight.reports.json_report import load
    from preflight.session import ensure_writable

    formats = _split_formats(format_)
    try:
        document = load(Path(run_json))
    except OSError as exc:
        raise UsageError(f"{run_json}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{run_json}: {exc}") from None
    out_dir = ensure_writable(out)
    for path in write_reports(document, out_dir, formats):
        click.echo(str(path))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one line and exit 2 for any usage error, never a traceback."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="preflight",
            standalone_mode=False,
        )
    except UsageError as exc:
        click.echo(f"preflight: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("preflight: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"preflight: error: {exc.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("preflight: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
