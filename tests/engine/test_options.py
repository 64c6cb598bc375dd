"""One option schema (issue 16, part 1): a flag, its --config key and its environment default
are validated by the same type, and a bad value is one line naming where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.clirun import one_line_exit_2, preflight


def offline_profile(tmp_path: Path) -> Path:
    """A profile whose one host needs a parameter nobody sets: every run is one skip."""
    path = tmp_path / "offline.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "offline", "cloud": "AzureCloud", "hosts": [{"host": "{acr}.azurecr.io"}]}
        )
    )
    return path


def config(tmp_path: Path, text: str, name: str = "preflight.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [
        ("--timeout", "abc", "a positive number of seconds"),
        ("--timeout", "nan", "a positive number of seconds"),
        ("--deadline", "-5", "a positive number of seconds"),
        ("--concurrency", "0", "a whole number from 1 to 4096"),
        ("--concurrency", "2.5", "a whole number from 1 to 4096"),
        ("--fail-on", "never", "one of fail, warn"),
        ("--format", "pdf", "a comma list of html, json, junit, md"),
        ("--nameserver", "dns.corp", "IP address"),
        ("--set", "region", "KEY=VALUE"),
    ],
)
def test_a_bad_value_is_named_with_its_source_from_flag_env_and_file(
    tmp_path: Path, flag: str, value: str, allowed: str
) -> None:
    key = flag.lstrip("-").replace("-", "_")
    from_flag = preflight("run", flag, value, out=tmp_path / "a")
    one_line_exit_2(from_flag, flag, repr(value), allowed)
    from_env = preflight("run", env={f"PREFLIGHT_{key.upper()}": value}, out=tmp_path / "b")
    one_line_exit_2(from_env, f"PREFLIGHT_{key.upper()}", "environment", allowed)
    listed = key in ("set", "nameserver")
    text = yaml.safe_dump({key: [value] if listed else value})
    from_file = preflight("run", "--config", str(config(tmp_path, text)), out=tmp_path / "c")
    one_line_exit_2(from_file, "--config", "preflight.yaml:1", key, allowed)
    for out in ("a", "b", "c"):
        assert not (tmp_path / out / "report.json").exists(), "nothing ran"


def test_config_values_mean_what_the_flags_mean(tmp_path: Path) -> None:
    """fail_on: WARN is the warn gate (not silently fail); quiet: "false" is not quiet;
    deadline: true is no number of seconds."""
    prof = offline_profile(tmp_path)
    strict = config(tmp_path, f"profile: {prof}\nfail_on: WARN\nquiet: 'false'\nformat: [json]\n")
    # every finding is a skip here, so the verdict is at most warn; with fail_on warn a warn
    # breaks the gate (exit 1), with the default it holds (exit 0)
    result = preflight("run", "--config", str(strict), out=tmp_path / "strict")
    assert result.stdout, "quiet: 'false' must not silence the summary"
    verdict = result.report()["summary"]["verdict"]
    assert result.code == (1 if verdict == "warn" else 0), (verdict, result.code)
    one_line_exit_2(
        preflight(
            "run",
            "--config",
            str(config(tmp_path, "deadline: true\n", "d.yaml")),
            out=tmp_path / "d",
        ),
        "d.yaml:1",
        "deadline: true",
        "a positive number of seconds",
    )
    quiet = config(tmp_path, f"profile: {prof}\nquiet: yes\n", "q.yaml")
    assert preflight("run", "--config", str(quiet), out=tmp_path / "q").stdout == ""


def test_a_flag_beats_the_file_which_beats_the_environment(tmp_path: Path) -> None:
    prof = offline_profile(tmp_path)
    path = config(tmp_path, f"profile: {prof}\ntimeout: 7\n")
    env = {"PREFLIGHT_TIMEOUT": "9", "PREFLIGHT_FORMAT": "json,md"}
    from_file = preflight("run", "--config", str(path), env=env, out=tmp_path / "a")
    assert (tmp_path / "a" / "summary.md").exists(), (
        "the environment still sets what the file does not"
    )
    flag = preflight("run", "--config", str(path), "--format", "json", env=env, out=tmp_path / "b")
    assert not (tmp_path / "b" / "summary.md").exists()
    assert from_file.code in (0, 1) and flag.code in (0, 1)
    broken_env = preflight("run", "--config", str(path), env={"PREFLIGHT_TIMEOUT": "x"})
    one_line_exit_2(broken_env, "PREFLIGHT_TIMEOUT")  # bad wherever it comes from


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("timout: 5\n", ["unknown option 'timout'", "did you mean timeout"]),
        ("config: other.yaml\n", ["unknown option 'config'"]),
        ("- a\n- b\n", ["expected a mapping of option: value"]),
        ("check: {a: 1}\n", ["check", "expected a list"]),
        ("set: {region: [eastus]}\n", ["set.region", "a single value"]),
        ("timeout: [1, 2]\n", ["timeout", "a positive number of seconds"]),
        ("profile: x\nprofile: y\n", [":2", "duplicate key 'profile'"]),
        ("a: [1, 2\n", ["malformed YAML"]),
        ("a: " + "[" * 100 + "]" * 100 + "\n", ["nested more than 64 levels"]),
    ],
)
def test_malformed_config_files_are_one_line(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = config(tmp_path, text)
    one_line_exit_2(preflight("run", "--config", str(path), out=tmp_path / "o"), *needles)


def test_binary_huge_and_alias_bomb_config_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    one_line_exit_2(preflight("run", "--config", str(binary)), "binary file")
    huge = tmp_path / "huge.yaml"
    huge.write_text("set:\n" + "".join(f"  k{i}: {'v' * 64}\n" for i in range(40_000)))
    one_line_exit_2(preflight("run", "--config", str(huge)), "larger than")
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    bomb = config(tmp_path, "\n".join(lines) + "\n", "bomb.yaml")
    one_line_exit_2(preflight("run", "--config", str(bomb), timeout=30), "alias bomb")


def test_a_rule_with_an_undeclared_placeholder_is_exit_2_with_file_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "name: rules\ncloud: AzureCloud\nhosts:\n"
        '  - host: "{acr}.azurecr.io"\n'
        '    rule: "*.{regoin}.data.azurecr.io"\n'
    )
    for result in (
        preflight("profiles", str(path)),
        preflight("run", "--profile", str(path), out=tmp_path / "o"),
    ):
        one_line_exit_2(result, f"{path}:5", "{regoin}", "declare it under parameters")
    attribute = tmp_path / "attr.yaml"
    attribute.write_text(
        'name: a\ncloud: AzureCloud\nhosts:\n  - host: "x.test"\n    rule: "{a.b}"\n'
    )
    one_line_exit_2(preflight("profiles", str(attribute)), f"{attribute}:5", "must be names")
