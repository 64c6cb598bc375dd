"""The probe image's contract, read from the Dockerfile (no Docker engine runs in CI): bases from
mcr.microsoft.com (pullable in every cloud), a pinned release line (never latest), a non-root
user, no shell needed at run time (exec-form entrypoint on a distroless runtime), and every
package folder the wheel needs copied in."""

from __future__ import annotations

import re

from support.paths import ROOT


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_bases_come_from_mcr_and_are_pinned() -> None:
    text = dockerfile()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    froms = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert len(froms) == 2
    for image in froms:
        resolved = args.get(image.strip("${}"), image)
        assert resolved.startswith("mcr.microsoft.com/"), resolved
        tag = resolved.split("@")[0].rsplit(":", 1)
        assert len(tag) == 2 and tag[1] not in ("latest", ""), resolved
    assert "distroless" in args["RUNTIME"]


def test_runs_as_non_root_without_a_shell() -> None:
    text = dockerfile()
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entry = re.findall(r"^ENTRYPOINT (.+)$", text, flags=re.M)
    assert entry and entry[-1].startswith("["), "exec form: no /bin/sh needed"
    final_stage = text.split("FROM ${RUNTIME}")[1]
    assert "RUN " not in final_stage, "the distroless stage has no shell to RUN with"


def test_copies_every_package_the_wheel_maps() -> None:
    text = dockerfile()
    for folder in ("preflight", "checks", "reports", "profiles"):
        assert f"COPY {folder} ./{folder}" in text
    assert "pyproject.toml" in text
