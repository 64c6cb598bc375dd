"""Every command-line option, declared once: its type, range, choices, default and help.

The same declaration serves the flag, its ``--config`` key and its environment default
(``PREFLIGHT_<NAME>`` for ``preflight run``), so a value is validated the same way wherever it
comes from, and a bad one is one line naming where it came from (docs/DESIGN.md, "CLI contract"):

- ``--timeout 'abc': expected a positive number of seconds``
- ``PREFLIGHT_FAIL_ON='never' (environment): expected one of fail, warn``
- ``--config ci.yaml:4: deadline true: expected a positive number of seconds``

Precedence: a flag on the command line, else the ``--config`` file, else the environment,
else the default. The types are click parameter types, so click applies them to flags and
environment values; ``apply_config`` applies the very same types to the file's values.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from preflight import yamlfile
from preflight.clients.proxy import validate_proxy_url
from preflight.errors import UsageError, nearest
from preflight.kube.params import PARAMETERS as IN_CLUSTER_PARAMETERS
from preflight.kube.params import validate_parameters as validate_pod_parameters
from preflight.params import parse_extension_config, parse_set

if TYPE_CHECKING:
    from preflight.waivers import Waiver

FORMAT_CHOICES = ("html", "json", "junit", "md")
ENV_PREFIX = "PREFLIGHT_"


# -- value types ----------------------------------------------------------------------------------


class _Type(click.ParamType):
    """Base: messages say what was given and what is allowed; no Python internals."""

    def fail_with(self, value: Any, expected: str) -> None:
        raise click.BadParameter(f"{_shown(value)}: expected {expected}")


def _shown(value: Any) -> str:
    """A value as the user wrote it (YAML's true/false, not Python's True/False)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


class Seconds(_Type):
    """A positive (or, with ``zero``, non-negative) finite number of seconds; never a bool."""

    name = "seconds"

    def __init__(self, *, zero: bool = False, maximum: float | None = None) -> None:
        self.zero = zero
        self.maximum = maximum

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        what = "a non-negative number of seconds" if self.zero else "a positive number of seconds"
        if self.maximum is not None:
            what += f" up to {self.maximum:g}"
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.fail_with(value, what)
        try:
            number = float(str(value).strip()) if isinstance(value, str) else float(value)
        except ValueError:
            self.fail_with(value, what)
        if (
            math.isnan(number)
            or math.isinf(number)
            or number < 0
            or (number == 0 and not self.zero)
        ):
            self.fail_with(value, what)
        if self.maximum is not None and number > self.maximum:
            self.fail_with(value, what)
        return number


class WholeNumber(_Type):
    """A whole number within ``[low, high]``; never a bool or a fraction."""

    name = "number"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        what = f"a whole number from {self.low} to {self.high}"
        if isinstance(value, bool):
            self.fail_with(value, what)
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            number = int(value.strip())
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        else:
            self.fail_with(value, what)
        if not self.low <= number <= self.high:
            self.fail_with(value, what)
        return number


class Rate(_Type):
    """A positive finite number (requests per second), at most ``maximum``."""

    name = "rate"

    def __init__(self, maximum: float = 100_000) -> None:
        self.maximum = maximum

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            return Seconds(maximum=self.maximum).convert(value, param, ctx)
        except click.BadParameter:
            self.fail_with(value, f"a positive number up to {self.maximum:g}")
        return 0.0  # unreachable


class Flag(_Type):
    """A yes/no value as YAML and environments spell it: true/false, yes/no, on/off, 1/0."""

    name = "boolean"
    _TRUE = {"true", "yes", "on", "1", "y"}
    _FALSE = {"false", "no", "off", "0", "n", ""}

    def convert(self, value: Any, param: Any, ctx: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in self._TRUE:
                return True
            if text in self._FALSE:
                return False
        self.fail_with(value, "true or false")
        return False  # unreachable


class OneOf(_Type):
    """One of ``choices``, matched case-insensitively and returned as declared."""

    name = "choice"

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        if isinstance(value, str):
            for choice in self.choices:
                if value.strip().lower() == choice.lower():
                    return choice
        self.fail_with(value, f"one of {', '.join(self.choices)}")
        return ""  # unreachable

    def get_metavar(self, param: Any, ctx: Any = None) -> str:  # click >= 8.2 passes ctx
        return "|".join(self.choices)


class CommaList(_Type):
    """Comma-separated choices (``html,json``), or a YAML list of them; deduplicated."""

    name = "list"

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        what = f"a comma list of {', '.join(self.choices)}"
        if isinstance(value, str):
            items = [v.strip().lower() for v in value.split(",") if v.strip()]
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            items = [str(v).strip().lower() for v in value if str(v).strip()]
        else:
            self.fail_with(value, what)
        if not items or any(i not in self.choices for i in items):
            self.fail_with(value, what)
        return tuple(dict.fromkeys(items))


class Text(_Type):
    """A non-empty line of text (numbers in a YAML file are taken as their text)."""

    name = "text"

    def __init__(
        self,
        what: str = "text",
        check: Callable[[str], None] | None = None,
        *,
        empty: bool = False,
    ) -> None:
        self.what = what
        self.check = check
        self.empty = empty

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail_with(value, self.what)
        text = str(value).strip()
        if (not text and not self.empty) or "\n" in text or "\x00" in text:
            self.fail_with(value, self.what)
        if not text:
            return text
        if self.check is not None:
            try:
                self.check(text)
            except (ValueError, UsageError) as exc:
                raise click.BadParameter(f"{_shown(value)}: {_bare(exc)}") from None
        return text


class WaiverText(_Type):
    """``CHECK[:TARGET-GLOB]`` (``--ignore``); in a ``--config`` file also a mapping
    ``{check, target, reason, expires}`` (docs/DESIGN.md, "Waivers")."""

    name = "check[:target]"

    def convert(self, value: Any, param: Any, ctx: Any) -> Waiver:
        # on first use: the waivers module and the result model stay out of --help's start-up
        from preflight import waivers

        if isinstance(value, waivers.Waiver):
            return value
        if not isinstance(value, str):
            self.fail_with(value, "CHECK[:TARGET-GLOB], e.g. egress.https:*.blob.core.windows.net")
        try:
            return waivers.parse_flag(value)
        except ValueError as exc:
            raise click.BadParameter(_bare(exc)) from None


class KeyValue(_Type):
    """``KEY=VALUE`` (``--set``); a YAML mapping entry in a ``--config`` file."""

    name = "key=value"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        if not isinstance(value, str) or "=" not in value or not value.partition("=")[0].strip():
            self.fail_with(value, "KEY=VALUE (e.g. region=eastus)")
        return str(value)


class ReadableFile(_Type):
    """A path to a readable file (what a flag names must exist when the run starts)."""

    name = "file"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        text = Text("a file path").convert(value, param, ctx)
        path = Path(text).expanduser()
        if path.is_dir():
            self.fail_with(value, "a readable file (this is a directory)")
        if not path.is_file():
            self.fail_with(value, "a readable file (no such file)")
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            self.fail_with(value, f"a readable file ({exc.strerror or exc})")
        return text


def _bare(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _nameserver(text: str) -> None:
    from preflight.clients.dns import parse_nameserver

    try:
        parse_nameserver(text)
    except UsageError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None


def _proxy(text: str) -> None:
    try:
        validate_proxy_url(text, "--proxy")
    except UsageError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None


# -- the options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option: its flag(s), value type, default and help; where it may come from."""

    name: str
    flags: tuple[str, ...]
    type: click.ParamType
    help: str
    default: Any = None
    metavar: str | None = None
    multiple: bool = False
    is_flag: bool = False
    #: may be given in a --config file
    in_config: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def flag(self) -> str:
        return self.flags[0]

    @property
    def envvar(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def click_option(self, *, with_env: bool) -> Callable[[Any], Any]:
        kwargs: dict[str, Any] = {
            "help": self.help,
            "multiple": self.multiple,
            **dict(self.extra),
        }
        if self.is_flag:
            kwargs["is_flag"] = True
            kwargs["type"] = Flag()
            kwargs["default"] = False
        else:
            kwargs["type"] = self.type
            if self.default is not None:
                kwargs["default"] = self.default
                kwargs["show_default"] = True
            if self.metavar:
                kwargs["metavar"] = self.metavar
        if with_env:
            kwargs["envvar"] = self.envvar
            kwargs["show_envvar"] = True
        return click.option(*self.flags, self.name, **kwargs)


SECONDS = Seconds()

#: every option of ``preflight run`` (also the keys of a --config file)
RUN: tuple[Option, ...] = (
    Option(
        "profile",
        ("--profile",),
        Text("a profile name or a path"),
        "Cloud profile: azure-public, azure-china, azure-usgov, or a YAML file.",
        default="azure-public",
        metavar="NAME|PATH",
    ),
    Option(
        "set",
        ("--set",),
        KeyValue(),
        "Profile parameter, repeatable: region, acr, storage_account, api_server, ...",
        metavar="KEY=VALUE",
        multiple=True,
    ),
    Option(
        "config",
        ("--config",),
        ReadableFile(),
        "YAML file holding any of these options (a flag on the command line wins).",
        metavar="FILE",
        in_config=False,
    ),
    Option(
        "kubeconfig",
        ("--kubeconfig",),
        Text("a kubeconfig path"),
        "Kubeconfig (default $KUBECONFIG, ~/.kube/config).",
        metavar="PATH",
    ),
    Option(
        "context",
        ("--context",),
        Text("a kubeconfig context name"),
        "Kubeconfig context (default: current-context).",
        metavar="NAME",
    ),
    Option(
        "check",
        ("--check",),
        Text("a check id or glob"),
        "Run only checks matching, e.g. 'dns.*' (repeatable).",
        metavar="GLOB",
        multiple=True,
    ),
    Option(
        "ignore",
        ("--ignore",),
        WaiverText(),
        "Accept a known finding: its check id or glob, and optionally a glob over its target "
        "(repeatable). It keeps its status, shows as accepted and leaves the verdict. In --config, "
        "`ignore:` is a list of {check, target, reason, expires: YYYY-MM-DD}.",
        metavar="CHECK[:TARGET]",
        multiple=True,
    ),
    Option(
        "skip",
        ("--skip",),
        Text("a check id or glob"),
        "Leave out checks matching (repeatable).",
        metavar="GLOB",
        multiple=True,
    ),
    Option(
        "nameserver",
        ("--nameserver",),
        Text("an IP address with an optional port, e.g. 10.0.0.4:53", _nameserver),
        "Resolve with these DNS servers instead of the system resolver (repeatable).",
        metavar="HOST[:PORT]",
        multiple=True,
    ),
    Option(
        "ca_bundle",
        ("--ca-bundle",),
        ReadableFile(),
        "Extra CA certificates (PEM) trusted for all outbound TLS, e.g. an inspecting proxy's.",
        metavar="PATH",
    ),
    Option(
        "proxy",
        ("--proxy",),
        Text("a proxy URL such as http://proxy:3128", _proxy),
        "Proxy for egress: http://, https://, socks5://, socks5h:// (default HTTPS_PROXY / "
        "HTTP_PROXY / ALL_PROXY, honouring NO_PROXY).",
        metavar="URL",
    ),
    Option(
        "timeout",
        ("--timeout",),
        Seconds(maximum=3600),
        "Bound on each network step of a probe.",
        default="5",
        metavar="SECONDS",
    ),
    Option(
        "deadline",
        ("--deadline",),
        Seconds(maximum=86400),
        "Bound on the whole run; unfinished checks end as error.",
        default="300",
        metavar="SECONDS",
    ),
    Option(
        "concurrency",
        ("--concurrency",),
        WholeNumber(1, 4096),
        "Most network probes in flight at once (sockets, DNS queries), across all checks.",
        default="64",
        metavar="N",
    ),
    Option(
        "extension_config",
        ("--extension-config",),
        Text('settings as "key=value key=value"', empty=True),
        'Planned `az k8s-extension create --config` settings, "k=v k=v".',
        metavar="TEXT",
    ),
    Option(
        "instance_types",
        ("--instance-types",),
        ReadableFile(),
        "Planned InstanceType objects (YAML: one, several documents, or a List), checked with "
        "those in the cluster.",
        metavar="FILE",
    ),
    Option(
        "deployment",
        ("--deployment",),
        ReadableFile(),
        "Planned online deployment: a v1 deploymentconfig.json or a v2 Kubernetes online "
        "deployment YAML.",
        metavar="FILE",
    ),
    Option(
        "out",
        ("--out",),
        Text("a directory"),
        "Where report files go.",
        default="preflight-report",
        metavar="DIR",
    ),
    Option(
        "format",
        ("--format",),
        CommaList(*FORMAT_CHOICES),
        "Comma list of html,json,junit,md.",
        default="html,json",
        metavar="LIST",
    ),
    Option(
        "fail_on",
        ("--fail-on",),
        OneOf("fail", "warn"),
        "Exit 1 on this verdict or worse.",
        default="fail",
    ),
    Option("quiet", ("--quiet",), Flag(), "No summary table on stdout.", is_flag=True),
    Option("no_color", ("--no-color",), Flag(), "No colours in terminal output.", is_flag=True),
    Option(
        "in_cluster",
        ("--in-cluster",),
        Flag(),
        "Also probe DNS and egress from a pod on every node pool (needs a cluster).",
        is_flag=True,
    ),
    Option(
        "dry_run",
        ("--dry-run",),
        Flag(),
        "Apply nothing to the cluster: print the manifests in-cluster steps would apply "
        "(also DIR/manifests.yaml; with --quiet stdout is only YAML).",
        is_flag=True,
    ),
    Option(
        "baseline",
        ("--baseline",),
        ReadableFile(),
        "A saved report.json to compare with (before/after, smoke latency).",
        metavar="OLD/report.json",
    ),
)

BY_NAME = {option.name: option for option in RUN}
#: options naming an input file that checks read (``Check.input_validators`` judge it before
#: the run starts; ``Context.input_file`` hands the path to the check)
INPUT_OPTIONS = ("instance_types", "deployment")


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Attach every ``RUN`` option to a click command (with its environment default)."""
    for option in reversed(RUN):
        command = option.click_option(with_env=True)(command)
    return command


# -- --config -------------------------------------------------------------------------------------


def apply_config(ctx: click.Context, params: dict[str, Any]) -> None:
    """Fill ``params`` from the ``--config`` file for every option not given as a flag (a file
    value beats the environment and the default). Each value goes through the option's own
    type; an unknown key is exit 2 with "did you mean"."""
    path = params.get("config")
    if not path:
        return
    label = str(path)
    try:
        data = yamlfile.load_file(Path(path).expanduser(), label)
    except yamlfile.YamlError as exc:
        raise UsageError(f"--config {exc}") from None
    if data is None:
        return
    if not isinstance(data, yamlfile.Located):
        raise UsageError(f"--config {label}:1: expected a mapping of option: value")
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        where = f"--config {yamlfile.where(data, raw_key)}"
        option = BY_NAME.get(key)
        if option is None or not option.in_config:
            known = [o.name for o in RUN if o.in_config]
            hint = nearest(key, known)
            did = f" (did you mean {hint}?)" if hint else ""
            raise UsageError(f"{where}: unknown option {raw_key!r}{did}")
        if ctx.get_parameter_source(key) == ParameterSource.COMMANDLINE:
            continue  # the command line wins
        params[key] = config_value(option, value, where, ctx)


def config_value(option: Option, value: Any, where: str, ctx: click.Context | None = None) -> Any:
    """``value`` from a config file, converted by ``option``'s type (UsageError naming
    ``where``, the key and what is allowed)."""
    kind: click.ParamType = Flag() if option.is_flag else option.type
    try:
        if option.name == "ignore":
            return _config_waivers(value, where)
        if option.multiple:
            if option.name == "set" and isinstance(value, Mapping):
                items: Iterable[Any] = [
                    f"{k}={_scalar(v, f'{where}: set.{k}')}" for k, v in value.items()
                ]
            elif isinstance(value, list | tuple):
                items = value
            elif isinstance(value, str | int | float) and not isinstance(value, bool):
                items = [value]
            else:
                raise click.BadParameter(f"{_shown(value)}: expected a list")
            return tuple(kind.convert(item, None, ctx) for item in items)
        if option.name == "extension_config" and isinstance(value, Mapping):
            value = " ".join(f"{k}={_scalar(v, f'{where}: {k}')}" for k, v in value.items())
        return kind.convert(value, None, ctx)
    except click.BadParameter as exc:
        raise UsageError(f"{where}: {option.name}: {exc.message}") from None


def _config_waivers(value: Any, where: str) -> tuple[Waiver, ...]:
    """``ignore:`` in a config file: a list of waivers (mappings or CHECK[:TARGET] strings),
    each remembering the file as its source."""
    from preflight import waivers  # on first use (start-up, as in WaiverText)

    entries = value if isinstance(value, list | tuple) else [value]
    label = where.removeprefix("--config ").rsplit(":", 1)[0]
    found = []
    for index, entry in enumerate(entries):
        try:
            found.append(waivers.parse_entry(entry, f"config {label}"))
        except ValueError as exc:
            at = yamlfile.where(value, index) if isinstance(value, list) else where
            raise UsageError(f"--config {at}: ignore[{index}]: {_bare(exc)}") from None
    return tuple(found)


def _scalar(value: Any, where: str) -> str:
    """A YAML value as the text a flag would carry (``true`` -> ``True``, as Azure CLI does)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str | int | float):
        return str(value)
    raise UsageError(f"{where}: {_shown(value)}: expected a single value")


# -- errors from click ----------------------------------------------------------------------------


def describe_bad_parameter(exc: click.BadParameter) -> str:
    """One line for a bad flag or environment value, naming where it came from."""
    param, ctx = exc.param, exc.ctx
    name = getattr(param, "name", None)
    flag = (getattr(param, "opts", None) or [name or "value"])[0]
    source = ctx.get_parameter_source(name) if ctx is not None and name else None
    if source == ParameterSource.ENVIRONMENT:
        envvar = getattr(param, "envvar", None) or ""
        if isinstance(envvar, list | tuple):
            envvar = envvar[0]
        return f"{envvar} (environment default of {flag}): {exc.message}"
    return f"{flag} {exc.message}"


# -- what other commands share ---------------------------------------------------------------------

seconds = Seconds
whole_number = WholeNumber


def formats_of(value: Any) -> list[str]:
    """``--format`` as a list (already validated by ``CommaList``)."""
    if isinstance(value, str):
        return list(CommaList(*FORMAT_CHOICES).convert(value, None, None))
    return list(value or ("html", "json"))


def sources(ctx: click.Context, names: Sequence[str]) -> dict[str, str]:
    """Where each option's value came from (``commandline``, ``environment``, ``default``...)."""
    found: dict[str, str] = {}
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None:
            found[name] = source.name.lower()
    return found


# -- one builder of the run's options -------------------------------------------------------------
# Imports. The schema above is what every command's `--help` needs (cli.py builds its options from
# it), so this module stays light at import; the builder below imports the engine (the context,
# the DNS client, the profile loader, the registry: ~100 ms) inside its functions, when a run or
# a probe actually starts.


@dataclass
class Prepared:
    """A run ready to start: its context, the registry, the selected checks, where reports go."""

    context: Any
    registry: Any
    checks: list[Any]
    formats: list[str] = field(default_factory=lambda: ["html", "json"])
    target: Any = None
    out: Path | None = None
    #: ``--ignore`` and the config file's ``ignore:`` (validated against the installed checks)
    waivers: tuple[Waiver, ...] = ()


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


def known_parameters(profile: Any, registry: Any) -> dict[str, str]:
    """Every ``--set`` key this run may take: the profile's, the engine's, the checks'."""
    known: dict[str, str] = {}
    for name, spec in profile.parameters.items():
        known[name] = spec.get("description", "")
    for name in profile.placeholders():
        known.setdefault(name, "host template parameter")
    for condition in profile.scenarios.values():
        known.setdefault(condition.partition("=")[0].rstrip("!").strip(), "scenario condition")
    known.setdefault(
        "api_server",
        "API server host, HOST or HOST:PORT (default: the kubeconfig's server, with its port)",
    )
    known.setdefault(
        "phase",
        "before (the default: is the cluster ready for the install?) or after (verify the "
        "installation: the checks of what the install created)",
    )
    for name, text in IN_CLUSTER_PARAMETERS.items():  # the engine's own: in-cluster pods
        known.setdefault(name, text)
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
                raise UsageError(f"--set {key}={value}: {_bare(exc)}") from None
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise UsageError(f"--set {key}={value}: cannot read: {reason}") from None
            except Exception:  # noqa: BLE001, S112 - a validator's own bug is not bad input:
                continue  # the check meets the value again when it runs and reports there


def validate_inputs(values: Mapping[str, Any], registry: Any) -> dict[str, str]:
    """The input files given (``INPUT_OPTIONS``: option name -> path), each judged by the
    ``input_validators`` the checks declare for it (UsageError, exit 2, naming the flag and the
    validator's ``FILE:LINE: problem``). Every registered check's validators run, not only the
    selected ones, as for ``--set`` files."""
    inputs = {name: str(values[name]) for name in INPUT_OPTIONS if values.get(name)}
    seen: set[tuple[str, int]] = set()
    for check in registry.checks.values():
        for name, validate in (getattr(check, "input_validators", None) or {}).items():
            path = inputs.get(name)
            if path is None or not callable(validate) or (name, id(validate)) in seen:
                continue
            seen.add((name, id(validate)))
            flag = BY_NAME[name].flag if name in BY_NAME else f"--{name.replace('_', '-')}"
            try:
                validate(path)
            except (ValueError, UsageError) as exc:
                raise UsageError(f"{flag} {_bare(exc)}") from None
            except OSError as exc:
                raise UsageError(f"{flag} {path}: cannot read: {exc.strerror or exc}") from None
    return inputs


def validate_services(profile: Any, registry: Any) -> None:
    """Every ``service:`` a profile host names is one some check knows (else exit 2, naming
    the file and line): a typo must not silently turn a registry into a generic host."""
    known = registry.host_services()
    if not known:
        return
    for spec in profile.hosts:
        if spec.service is not None and spec.service not in known:
            hint = nearest(spec.service, sorted(known))
            did = f" (did you mean {hint!r}?)" if hint else ""
            raise UsageError(
                f"{spec.where('service')}: unknown service kind {spec.service!r}{did}; "
                f"known: {', '.join(sorted(known))}"
            )


def load_baseline(path: str | None) -> dict[str, Any] | None:
    """``--baseline OLD/report.json``: the saved run checks compare with, read and checked
    before the run starts, so a wrong path is one line and exit 2, not a run."""
    if not path:
        return None
    from preflight.report import load  # see "Imports" above prepare()

    try:
        return load(path)
    except ValueError as exc:  # names the file and says why (cannot read, not JSON, schema)
        raise UsageError(f"--baseline {_bare(exc)}") from None


#: ``--profile env:VAR`` / ``--ca-bundle env:VAR`` in a probe pod: the text from a variable
PROBE_ENV_PREFIX = "env:"


def _from_env(flag: str, value: str) -> str:
    """The text of ``env:VAR`` (UsageError when unset or empty)."""
    name = value[len(PROBE_ENV_PREFIX) :]
    text = os.environ.get(name, "")
    if not name or not text.strip():
        raise UsageError(f"{flag} {value}: environment variable {name or '?'} is not set")
    return text


def prepare(values: Mapping[str, Any], *, mode: str = "run") -> Prepared:
    """Everything a run was told, validated, as one ``Context`` (or UsageError, exit 2).

    ``mode="run"``: ``preflight run`` (reports, a cluster from the kubeconfig, phases).
    ``mode="probe"``: ``preflight probe`` inside a pod: no cluster and no reports; ``--profile``
    and ``--ca-bundle`` may be ``env:VAR`` (a pod cannot read the controller's files)."""
    from preflight import registry as registry_module
    from preflight.clients.dns import parse_nameserver
    from preflight.context import Context, RunOptions
    from preflight.profile import load_profile, load_profile_text

    probe = mode == "probe"
    profile_name = str(values.get("profile") or "azure-public")
    if probe and profile_name.startswith(PROBE_ENV_PREFIX):
        profile = load_profile_text(
            _from_env("--profile", profile_name), f"${profile_name[len(PROBE_ENV_PREFIX) :]}"
        )
    else:
        profile = load_profile(profile_name)
    registry = registry_module.load()
    validate_services(profile, registry)
    parameters = parse_set(values.get("set") or (), known_parameters(profile, registry))
    validate_parameters(parameters, registry)
    inputs = {} if probe else validate_inputs(values, registry)
    phase = registry_module.validate_phase(parameters.get("phase"))
    include = tuple(values.get("check") or ())
    if probe and not include:
        # the checks whose answer depends on where they run (Check.vantage_dependent)
        include = tuple(sorted(c.id for c in registry.checks.values() if c.vantage_dependent))
        if not include:
            raise UsageError("no loaded check depends on where it runs: name checks with --check")
    checks = registry.select(include, tuple(values.get("skip") or ()), phase=phase)
    ca_bundle = values.get("ca_bundle") or None
    ca_text = None
    if probe and ca_bundle and str(ca_bundle).startswith(PROBE_ENV_PREFIX):
        ca_text = _from_env("--ca-bundle", str(ca_bundle))
    elif ca_bundle and not os.access(str(ca_bundle), os.R_OK):
        raise UsageError(f"--ca-bundle {ca_bundle}: not a readable file")
    timeout = float(values.get("timeout") or 5)
    deadline = float(values.get("deadline") or (120 if probe else 300))
    sources = {k: "--set" for k in parameters}
    target = None
    extras: dict[str, Any] = {}
    if not probe:
        from preflight.kubeconfig import find_target

        try:
            validate_pod_parameters(parameters)
        except ValueError as exc:
            raise UsageError(_bare(exc)) from None
        target = find_target(values.get("kubeconfig"), values.get("context"))
        if target is not None and target.api_server and not parameters.get("api_server"):
            parameters["api_server"] = target.api_server
            sources["api_server"] = f"kubeconfig context {target.context}"
        extras = {
            "extension_settings": parse_extension_config(values.get("extension_config")),
            "baseline": load_baseline(values.get("baseline")),
            "baseline_path": values.get("baseline"),
            "kubeconfig": values.get("kubeconfig"),
            "kube_context": values.get("context"),
            "dry_run": bool(values.get("dry_run")),
            "in_cluster": bool(values.get("in_cluster")),
            "inputs": inputs,
        }
    options = RunOptions(
        profile=profile,
        params=parameters,
        nameservers=[parse_nameserver(n) for n in values.get("nameserver") or ()],
        ca_bundle=None if ca_text is not None else ca_bundle,
        ca_text=ca_text,
        ca_label=str(ca_bundle) if ca_bundle else None,
        proxy=values.get("proxy") or None,
        timeout=timeout,
        deadline=deadline,
        param_sources=sources,
        check_patterns=include if not probe else (),
        phase=phase,
        concurrency=int(values.get("concurrency") or 64),
        kube_target=target,
        vantage=("in-cluster" if os.environ.get("PREFLIGHT_NODE_NAME") else "probe")
        if probe
        else "local",
        **extras,
    )
    context = Context(options)
    context.tls_context()  # a malformed --ca-bundle: exit 2 now, not per host
    _ = context.proxies  # a malformed --proxy flag likewise (environment proxies never raise)
    if probe:
        from preflight.clients.dns import is_valid_hostname

        for name in values.get("resolve") or ():
            if not is_valid_hostname(str(name).rstrip(".")):
                raise UsageError(f"--resolve {name!r}: not a valid DNS host name")
        return Prepared(context, registry, checks)
    accepted = tuple(values.get("ignore") or ())
    from preflight.waivers import check_patterns

    check_patterns(accepted, sorted(registry.checks))
    return Prepared(
        context,
        registry,
        checks,
        waivers=accepted,
        formats=formats_of(values.get("format") or "html,json"),
        target=target,
        out=ensure_writable(str(values.get("out") or "preflight-report")),
    )
