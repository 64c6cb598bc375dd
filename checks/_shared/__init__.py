"""What several check families use: the planned extension (plan.py) and the components it
bundles (bundled.py), reads of the cluster that end in findings (kube_reads.py), pods and their
states (pods.py), nodes, their capacity and tolerations (nodes.py), the ARM cluster resource
(cluster_resource.py), the extension's health-check codes (healthcodes.py), the in-cluster probe
fleet (probe_fleet.py) and what every probe Job of preflight's shares (probe_pods.py). No checks
here; a family imports this package, never another family.
"""
