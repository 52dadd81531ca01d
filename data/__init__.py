"""Data files bundled with multinom (the repository's ``data/`` folder, installed as ``multinom.data``).

Read them with :func:`multinom.datasets.load_dataset`; the registry is ``datasets.json``
and ``README.md`` describes each dataset.
"""
