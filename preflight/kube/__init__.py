"""Running preflight's own pods in the cluster, and leaving nothing behind.

Checks that need to look from inside the cluster (a probe on every node pool, a smoke inference
service) use this runtime; it knows nothing of any one check. What it guarantees:

- **One namespace per run**, ``preflight-<run id>``, labelled ``app.kubernetes.io/managed-by=
  preflight`` and ``preflight.io/run-id=<id>``, with its creation time and the time after which
  it is surely a leftover as annotations. Every object created goes in it with the same labels,
  so deleting the namespace removes everything; the session does that when the run ends however
  it ends (``Context.on_cleanup``), and ``preflight cleanup`` finds what a killed run left.
- **Least privilege**: the caller needs only the ClusterRole ``preflight-runner`` (create a
  namespace, create a RoleBinding to ``preflight-run``). Everything else is granted by that
  RoleBinding *inside the run's namespace*: Kubernetes authorizes a request for a namespace
  object with the namespace attribute set to its name, so even ``delete namespaces`` there allows
  deleting that one namespace only (deploy/rbac-runner.yaml).
- **Pods that run anywhere reasonable**: restricted Pod Security profile, small requests and
  limits, no service-account token, a deadline on everything that can have one; image, pull
  secrets, node selector, tolerations and proxy from ``--set`` (``PARAMETERS``).
- **Failures told plainly**: ``wait_*`` return an ``Outcome`` (phase, node, reason, message,
  exit code, the pod's recent Events, the last log lines) and ``explain`` turns an outcome or a
  refused create into a message and a remediation (image pulls, scheduling, quota, Pod Security
  and other admission, crash loops, timeouts).
- ``--dry-run``: nothing is applied; every manifest is recorded (``Context.manifests``) and the
  session prints them.

The modules, one job each: labels.py (what marks a run's objects), params.py (the pods'
``--set`` parameters), image.py, pod_proxy.py, manifests.py, namespace.py (the run's namespace,
applying and waiting), outcome.py and podstate.py (how a wait ended, read from the pod),
explain.py (what to change), identity.py (RBAC subject and RoleBinding), leftovers.py
(``preflight cleanup``).

A check uses it through ``preflight.api`` like this::

    from preflight.api import KubeError, explain, job_manifest, run_namespace

    ns = run_namespace(ctx)
    try:
        ns.apply(job_manifest(ctx, "probe", preflight_command("probe"), args=["--json"]))
    except KubeError as exc:
        message, fix = explain(exc)
        ...
    outcome = ns.wait_job("probe", timeout=120)
    if not outcome.ok:
        message, fix = explain(outcome)
    else:
        text = ns.logs(outcome.pod)
"""
