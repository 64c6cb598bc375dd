"""preflight's own container image and how a pod starts it."""

from __future__ import annotations

from preflight import __version__

CONTAINER = "preflight"


#: No image is published yet: build it from the repository's Dockerfile, push it to a registry
#: the nodes can pull from (air-gapped and China users mirror it), and pass
#: ``--set probe_image=REGISTRY/preflight:VERSION``. The default is an unqualified name on
#: purpose: ``docker.io/library`` holds only official images, so nobody can publish a look-alike
#: under it (a user namespace on a public registry could be squatted), and a cluster that
#: preloaded the image (``kind load docker-image``) runs it with pull policy IfNotPresent.
DEFAULT_IMAGE = f"preflight:{__version__}"


#: how a pod starts preflight: the image's ENTRYPOINT form, so no console-script shebang has to
#: be valid inside the distroless image
PREFLIGHT_COMMAND = ("python3", "-m", "preflight")


def preflight_command(*subcommand: str) -> list[str]:
    """``preflight_command("probe")`` -> ``["python3", "-m", "preflight", "probe"]``."""
    return [*PREFLIGHT_COMMAND, *subcommand]
