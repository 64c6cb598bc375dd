"""preflight's built-in checks, one package per family (the first part of a check id):
connectivity, cluster, extension, azure, gpu, smoke; ``_shared`` holds what several families use.
Each family registers as a plugin does, through the entry-point group ``preflight.checks``.
"""
