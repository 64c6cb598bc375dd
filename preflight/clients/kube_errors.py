"""A failed Kubernetes call, classified (``KubeError.kind``) so a finding can say what to do.
Apart from the client (kube.py) so that the exec-plugin runner (kube_exec.py) raises the same
error without importing the client it serves.
"""

from __future__ import annotations


class KubeError(Exception):
    """A Kubernetes call that failed, classified so a finding can say what to do."""

    def __init__(
        self, kind: str, message: str, status: int | None = None, *, remedy: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind  # config | exec | dns | refused | tls | timeout | unauthorized |
        #                   forbidden | notfound | conflict | throttled | server | closed |
        #                   protocol | malformed | error
        self.message = message
        self.status = status
        self._remedy = remedy
        #: where it happened: ``connect`` (name, TCP), ``tls`` (handshake, or the session ended
        #: before any HTTP answer), ``http`` (the request and its answer); None before any
        #: connection (kubeconfig, exec plugin)
        self.phase: str | None = _PHASES.get(kind)
        #: the command that failed (an exec plugin's display name: no env, secrets masked)
        self.command: str | None = None

    def remediation(self) -> str:
        return self._remedy or REMEDIES.get(self.kind, "check the API server and your kubeconfig")


REMEDIES = {
    "config": "fix the kubeconfig (kubectl config view) or pass --kubeconfig / --context",
    "dns": "the API server's name does not resolve from here: check DNS (private clusters need "
    "the privatelink zone) or run preflight from inside the cluster's network",
    "refused": "nothing answers at the API server address: check the server URL in the "
    "kubeconfig and any firewall between here and the cluster",
    "tls": "the API server's certificate is not trusted: refresh the kubeconfig "
    "(az aks get-credentials) or fix certificate-authority-data",
    "timeout": "the API server did not answer in time: check authorized IP ranges, private "
    "cluster access, VPN, or raise --timeout",
    "unauthorized": "the credentials were rejected (expired token or certificate): refresh them "
    "(az aks get-credentials, kubelogin) and retry",
    "forbidden": "the identity is not allowed this call: bind it to the ClusterRole in "
    "deploy/rbac.yaml (kubectl apply -f deploy/rbac.yaml)",
    "throttled": "the API server is throttling requests: retry later",
    "server": "the API server failed the request: check its health (kubectl get --raw /readyz)",
    "closed": "the API server's address accepted the connection and closed it without an "
    "answer: check the server URL in the kubeconfig (http:// for an https:// server?) and any "
    "proxy or load balancer in front of the API server",
    "protocol": "something that does not speak HTTP answers at the API server address: check the "
    "server URL and port in the kubeconfig",
    "malformed": "the answer is not what the Kubernetes API sends: check the server URL in the "
    "kubeconfig (kubectl config view --minify) and any proxy in between",
}

_PHASES = {
    "dns": "connect",
    "refused": "connect",
    "tls": "tls",
    "timeout": "http",
    "unauthorized": "http",
    "forbidden": "http",
    "notfound": "http",
    "conflict": "http",
    "throttled": "http",
    "server": "http",
    "closed": "http",
    "protocol": "http",
    "malformed": "http",
}
