"""The command line (docs/DESIGN.md, "CLI contract"). Heavy modules are imported inside commands so
that ``preflight --help`` and ``preflight checks`` answer at once."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from preflight import __version__, options
from preflight.errors import UsageError

# Each command imports its implementation inside its function, on purpose: `preflight --help`,
# `preflight checks` and a typo's exit 2 answer in ~30 ms instead of the ~170 ms that importing
# the whole engine (session, clients, workload) costs. Nothing else in the engine does this.

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2

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


@cli.command("run", help=RUN_HELP)
@options.run_options
@click.pass_context
def run_command(ctx: click.Context, **params: Any) -> None:
    options.apply_config(ctx, params)
    from preflight.session import run_session

    code = run_session(params)
    ctx.exit(code)


@cli.command("checks")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON list of {id, title, category, needs, phases}.",
)
def checks_command(as_json: bool) -> None:
    """List the checks this installation has (built-in and plugins)."""
    from preflight import registry

    reg = registry.load()
    checks = reg.select()
    if as_json:
        click.echo(json.dumps([c.describe() for c in checks], indent=2))
    else:
        width = max((len(c.id) for c in checks), default=10)
        for check in checks:
            needs = f"  [needs {', '.join(check.needs)}]" if check.needs else ""
            only = registry.phases_of(check)
            when = f"  [phase {only[0]} only]" if len(only) == 1 else ""
            click.echo(f"{check.id:<{width}}  {check.category:<12}  {check.title}{needs}{when}")
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
    from preflight.profile import builtin_names, cite_text, load_profile, source_lines

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
    from preflight import registry

    loaded = registry.load()
    options.validate_services(profile, loaded)
    params = parse_set(set_, options.known_parameters(profile, loaded))
    context = Context(RunOptions(profile=profile, params=params))
    click.echo(f"{profile.name} ({profile.cloud}): {profile.description}")
    if profile.confidence:
        click.echo(f"confidence: {profile.confidence}")
    for key, value in profile.endpoints.items():
        click.echo(f"  endpoint {key}: {value}")
    for key, value in profile.audiences.items():
        click.echo(f"  audience {key}: {value}")
    window = profile.kubernetes
    if window.get("min_minor") is not None and window.get("max_minor") is not None:
        as_of = f" (as of {window['as_of']})" if window.get("as_of") else ""
        click.echo(f"  kubernetes: 1.{window['min_minor']}–1.{window['max_minor']}{as_of}")
    click.echo("")

    def show(hosts: Sequence[Any]) -> None:
        for host in hosts:
            shown = host.fqdn or f"{host.spec.template}  (set {', '.join(host.missing)})"
            need = "required" if host.required else "optional"
            click.echo(
                f"  {shown}:{host.port}  [{need}; {', '.join(host.spec.needed_for)}]  "
                f"{host.spec.purpose}"
            )
            cited = cite_text(profile, host.spec)
            if cited:
                click.echo(f"      sources: {cited}")

    show(context.hosts())
    for set_name in profile.host_sets:
        click.echo("")
        click.echo(f"host set {set_name} (checked when a check finds the cluster needs it):")
        show(context.host_set(set_name))
    if profile.sources:
        click.echo("")
        click.echo("sources (each document's date; where to read it; what it is the source of):")
        for line in source_lines(profile):
            click.echo(line)


@cli.command("report")
@click.argument("run_json", metavar="RUN.json")
@click.option(
    "--format",
    "format_",
    type=options.CommaList(*options.FORMAT_CHOICES),
    default="html",
    show_default=True,
    metavar="LIST",
    help="Comma list of html,json,junit,md.",
)
@click.option("--out", default="preflight-report", show_default=True, metavar="DIR")
@click.option(
    "--baseline",
    metavar="OLD.json",
    help="An earlier run's report.json: show this run beside it (what changed, which of its "
    "warnings came true), e.g. the run before the install beside the one after it.",
)
def report_command(run_json: str, format_: tuple[str, ...], out: str, baseline: str | None) -> None:
    """Re-render a saved run (report.json) into other formats."""
    from preflight import registry
    from preflight.compare import compare
    from preflight.options import ensure_writable, load_baseline
    from preflight.report import load
    from preflight.reports import write_reports

    formats = list(format_)
    try:
        document = load(Path(run_json))
    except OSError as exc:
        raise UsageError(f"{run_json}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{run_json}: {exc}") from None
    earlier = load_baseline(baseline)
    if earlier is not None:
        document["comparison"] = compare(document, document["results"], earlier, baseline)
    out_dir = ensure_writable(out)
    categories = registry.load().category_order()
    for path in write_reports(document, out_dir, formats, categories):
        click.echo(str(path))


# -- smoke inference: the model server and the load generator (run in pods by the smoke check) --
@cli.command("serve-model")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=5001,
    show_default=True,
    type=options.WholeNumber(0, 65535),
    help="Port to listen on (0: any free port, printed at start).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=options.WholeNumber(1, 64),
    help="Processes accepting on the port (each with its own threads).",
)
@click.option(
    "--service-time-ms",
    default=0.0,
    show_default=True,
    type=options.Seconds(zero=True, maximum=600000),
    metavar="MS",
    help="For testing: sleep this long in every scoring request.",
)
@click.option(
    "--stall-after",
    type=options.Seconds(zero=True, maximum=86400),
    metavar="SECONDS",
    help="For testing: stall every request once, this long after the first scoring request.",
)
@click.option(
    "--stall-for",
    default=1.0,
    show_default=True,
    type=options.Seconds(zero=True, maximum=86400),
    metavar="SECONDS",
    help="For testing: how long the --stall-after stall lasts.",
)
def serve_model_command(
    host: str,
    port: int,
    workers: int,
    service_time_ms: float,
    stall_after: float | None,
    stall_for: float,
) -> None:
    """Serve the smoke-test model: POST /score, GET /healthz (stdlib HTTP, keep-alive).

    \b
    POST /score  {"data": [[tenure_months, monthly_charge, support_calls, late_payments], ...]}
                 -> {"result": [probability, ...]}   (deterministic; 400 on bad input)
    GET /healthz -> {"status": "ok"}
    Stops gracefully on SIGTERM/SIGINT.
    """
    from preflight.workload.scoring import ServeOptions, serve

    options = ServeOptions(
        host=host,
        port=port,
        workers=workers,
        service_time_ms=service_time_ms,
        stall_after=stall_after,
        stall_for=stall_for,
    )
    sys.exit(serve(options))


LOAD_HELP = """Send a constant rate of requests to URL and report latency percentiles.

Open loop: request i is due at start + i/RATE whatever the server does, and its latency counts
from that intended send time, so a server stall shows in every request scheduled during it.
A warm-up at the same rate comes first and is not counted.

\b
Examples:
  preflight load http://127.0.0.1:5001/score --rate 100 --duration 30
  preflight load https://ep.example/score --rate 50 --duration 60 --key "$KEY" --json

Errors: a non-2xx status, a timeout, a connection failure. Exit 0 once the run is measured
(read errors/error_rate), 2 for bad input. Ctrl-C or SIGTERM stops it and prints what was
measured so far (requests still unanswered left out; --json adds "interrupted": "SIGINT",
"partial": true and measured_s), exit 130 / 143."""


@cli.command("load", help=LOAD_HELP)
@click.argument("url")
@click.option(
    "--rate", required=True, type=options.Rate(), metavar="R", help="Requests per second."
)
@click.option(
    "--duration",
    required=True,
    type=options.Seconds(maximum=86400),
    metavar="SECONDS",
    help="Measured duration.",
)
@click.option(
    "--warmup",
    default="2",
    type=options.Seconds(zero=True, maximum=3600),
    show_default=True,
    metavar="SECONDS",
    help="Uncounted.",
)
@click.option(
    "--timeout",
    default="5",
    type=options.Seconds(maximum=3600),
    show_default=True,
    metavar="SECONDS",
    help="Per request, from its intended send time.",
)
@click.option("--method", default="POST", show_default=True, help="HTTP method.")
@click.option(
    "--payload",
    metavar="JSON|@FILE",
    help="Request body (default for POST: the smoke model's sample request).",
)
@click.option("--header", "headers", multiple=True, metavar="'K: V'", help="Repeatable.")
@click.option(
    "--key",
    envvar="PREFLIGHT_SCORING_KEY",
    metavar="KEY",
    help="Sent as 'Authorization: Bearer KEY' (or set PREFLIGHT_SCORING_KEY); never printed.",
)
@click.option(
    "--connections",
    default="256",
    type=options.WholeNumber(1, 10000),
    show_default=True,
    metavar="N",
    help="Most keep-alive connections (opened as needed).",
)
@options.BY_NAME["ca_bundle"].click_option(with_env=False)
@options.BY_NAME["proxy"].click_option(with_env=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def load_command(
    url: str,
    rate: float,
    duration: float,
    warmup: float,
    timeout: float,
    method: str,
    payload: str | None,
    headers: Sequence[str],
    key: str | None,
    connections: int,
    ca_bundle: str | None,
    proxy: str | None,
    as_json: bool,
) -> None:
    from preflight.clients.net import ProxySettings
    from preflight.interrupts import Interrupts
    from preflight.redact import Redactor
    from preflight.workload.loadgen import format_table, run_load
    from preflight.workload.request import load_payload, parse_headers

    redactor = Redactor([key or "", *(h.partition(":")[2].strip() for h in headers)])
    try:
        body = load_payload(payload)
        pairs = parse_headers(headers)
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        try:
            port = parts.port or (443 if tls else 80)
        except ValueError:
            port = 443 if tls else 80  # run_load reports the malformed URL
        chosen = ProxySettings.build(proxy).for_host(parts.hostname or "", port, tls)
        with Interrupts() as interrupts:  # SIGINT/SIGTERM: stop, print what was measured
            result = run_load(
                url,
                rate,
                duration,
                warmup=warmup,
                timeout=timeout,
                method=method,
                payload=body,
                headers=pairs,
                key=key,
                connections=connections,
                ca_bundle=ca_bundle,
                proxy=chosen,
                stop=interrupts.stop,
                partial=True,
            )
    except UsageError as exc:
        raise UsageError(redactor.text(str(exc))) from None
    if interrupts.signum:
        result["interrupted"] = interrupts.name
    if as_json:
        click.echo(json.dumps(result))
    else:
        if interrupts.signum:
            click.echo(
                f"interrupted ({interrupts.name}): partial result, "
                f"{result.get('measured_s', 0):g}s of {duration:g}s measured"
            )
        click.echo(format_table(result))
    if interrupts.signum:
        click.echo(
            f"preflight: interrupted ({interrupts.name}): printed what was measured so far",
            err=True,
        )
        sys.exit(128 + interrupts.signum)


# -- preflight probe: the vantage-dependent checks from inside a pod (preflight run --in-cluster) --
PROBE_HELP = """Run checks from here and print each finding as one JSON line (for pods).

`preflight run --in-cluster` starts this in one pod per node pool and reads the pod log: the
nodes' network, not the laptop's. Each line is a finding (report.json's shape) plus "node" and
"node_pool" (from PREFLIGHT_NODE_NAME / PREFLIGHT_NODE_POOL); --resolve adds one line per name;
the last line is {"probe": "done", "count": N}. Secrets are redacted. Exit 0 whatever the
findings say (the controller judges them), 2 for bad input; on SIGTERM (the pod's deadline or
deletion) or SIGINT the probes still running end as error "interrupted", what it has is
printed with a done line carrying "interrupted": "SIGTERM", and it exits 143 (130).

--profile and --ca-bundle also take env:VAR: the text itself, from an environment variable
(a pod cannot read the controller's files).

\b
Examples:
  preflight probe --profile azure-china --set region=chinaeast2 --set acr=myacr
  preflight probe --profile env:PREFLIGHT_PROBE_PROFILE \\
      --resolve kubernetes.default.svc.cluster.local"""


@cli.command("probe", help=PROBE_HELP)
@options.BY_NAME["profile"].click_option(with_env=False)
@options.BY_NAME["set"].click_option(with_env=False)
@options.BY_NAME["check"].click_option(with_env=False)
@options.BY_NAME["nameserver"].click_option(with_env=False)
@click.option(
    "--ca-bundle",
    "ca_bundle",
    type=options.Text("a file path or env:VAR"),
    metavar="PATH|env:VAR",
    help="Extra CA certificates (PEM).",
)
@options.BY_NAME["proxy"].click_option(with_env=False)
@options.BY_NAME["timeout"].click_option(with_env=False)
@click.option(
    "--deadline",
    type=options.Seconds(maximum=86400),
    default="120",
    show_default=True,
    metavar="SECONDS",
)
@click.option(
    "--resolve",
    multiple=True,
    type=options.Text("a DNS name"),
    metavar="NAME",
    help="Also resolve NAME with this vantage's resolver; one line each.",
)
def probe_command(**params: Any) -> None:
    from preflight.probe import run_probe

    sys.exit(run_probe(params))


# -- preflight cleanup: what crashed runs left in the cluster (preflight.incluster) ---------------
CLEANUP_HELP = """Delete what runs of preflight left in the cluster.

Every run that starts pods does so in its own namespace, preflight-<run id>, labelled
app.kubernetes.io/managed-by=preflight and preflight.io/run-id, and deletes it when it ends,
however it ends. A run killed outright (kill -9, a lost laptop) leaves it behind: this finds
such namespaces and deletes them with everything inside.

By default a namespace goes once its run's deadline has passed (annotation
preflight.io/expires-at), so a run still in progress elsewhere is left alone; --older-than
selects by age instead (--older-than 0 deletes every one, running or not).

\b
Examples:
  preflight cleanup --dry-run
  preflight cleanup --older-than 2h --context prod-aks

Exit codes: 0 nothing left to delete or all deleted, 1 a deletion failed or the cluster could
not be read, 2 usage error."""


@cli.command("cleanup", help=CLEANUP_HELP)
@click.option("--kubeconfig", metavar="PATH", help="Kubeconfig (default $KUBECONFIG).")
@click.option("--context", "kube_context", metavar="NAME", help="Kubeconfig context.")
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Delete namespaces created longer ago than this (30m, 2h, 1d; 0: all).",
)
@click.option("--dry-run", is_flag=True, help="Only print what would be deleted.")
@click.option(
    "--timeout",
    type=options.Seconds(maximum=3600),
    default="10",
    show_default=True,
    metavar="SECONDS",
)
def cleanup_command(
    kubeconfig: str | None,
    kube_context: str | None,
    older_than: str | None,
    dry_run: bool,
    timeout: float,
) -> None:
    from preflight.clients.kube import KubeClient, KubeError, KubeSettings, config_present
    from preflight.kube.leftovers import delete_leftover, find_leftovers, parse_duration

    limit = None
    if older_than is not None:
        try:
            limit = parse_duration(older_than)
        except ValueError as exc:
            raise UsageError(f"--older-than {exc}") from None
    settings = KubeSettings(kubeconfig, kube_context, timeout)
    present, where = config_present(settings)
    if not present:
        raise UsageError(f"no cluster given (no kubeconfig at {where}); pass --kubeconfig")
    kube = KubeClient(settings)
    try:
        leftovers = find_leftovers(kube)
    except KubeError as exc:
        click.echo(f"preflight: cannot list namespaces: {exc.message}", err=True)
        click.echo(f"  {exc.remediation()}", err=True)
        sys.exit(EXIT_GATE)
    now = dt.datetime.now(dt.UTC)
    failed = 0
    acted = 0
    for leftover in leftovers:
        age = leftover.age(now)
        shown = f"{leftover.name} (run {leftover.run_id or '?'}"
        shown += f", created {age / 60:.0f} min ago)" if age is not None else ")"
        if limit is not None:
            due = age is None or age >= limit
            why = f"younger than {older_than}"
        else:
            due = leftover.expires is None or leftover.expires <= now
            when = leftover.expires.isoformat(timespec="seconds") if leftover.expires else ""
            why = f"its run may still be going (deadline {when}; --older-than 0 to force)"
        if not due:
            click.echo(f"kept {shown}: {why}")
            continue
        acted += 1
        if dry_run:
            click.echo(f"would delete namespace {shown}")
            continue
        if leftover.phase == "Terminating":
            click.echo(f"namespace {shown} is already being deleted")
            continue
        try:
            delete_leftover(kube, leftover)
        except KubeError as exc:
            failed += 1
            click.echo(f"could not delete namespace {shown}: {exc.message}", err=True)
            continue
        click.echo(f"deleted namespace {shown}")
    if not acted:
        click.echo("nothing to clean up" if not leftovers else "nothing due for cleanup")
    sys.exit(EXIT_GATE if failed else EXIT_OK)


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
    except click.BadParameter as exc:
        click.echo(f"preflight: error: {options.describe_bad_parameter(exc)}", err=True)
        sys.exit(EXIT_USAGE)
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
