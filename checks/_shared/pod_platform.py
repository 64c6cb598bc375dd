"""What preflight's pods must tell the platform they run on. AKS injects its cluster-wide
``httpProxyConfig`` into every pod through an admission webhook unless the pod carries the
annotation ``kubernetes.azure.com/no-http-proxy-vars: "true"``
(https://learn.microsoft.com/azure/aks/http-proxy). A pod whose proxy preflight chose (``--set
probe_proxy=URL`` or ``none``, or a pod whose traffic stays in the cluster) carries it, so the
platform's proxy is not put on top of preflight's choice. The engine's manifest builders take
these ``annotations``; the engine itself knows no platform.
"""

from __future__ import annotations

from preflight.api import Context, proxy_source

#: the pod annotation that keeps AKS from injecting its httpProxyConfig into a pod
NO_PROXY_VARS_ANNOTATION = "kubernetes.azure.com/no-http-proxy-vars"


def pod_annotations(ctx: Context, proxy: str = "cluster") -> dict[str, str]:
    """The annotations of a pod built with the engine's ``proxy`` policy (``cluster`` or
    ``none``): the AKS opt-out whenever preflight, not the platform, decides the proxy."""
    if proxy_source(ctx, proxy) == "platform":
        return {}
    return {NO_PROXY_VARS_ANNOTATION: "true"}
