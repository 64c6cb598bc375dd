"""What preflight runs inside the cluster for a measured workload: the open-loop load generator
(``preflight load``: loadgen.py, with histogram.py, request.py and http_pool.py) and the model
server it loads (``preflight serve-model``: scoring.py). Generic HTTP tools: they know nothing
of any check; ``smoke.inference`` deploys them.
"""
