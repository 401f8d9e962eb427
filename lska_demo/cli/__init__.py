"""``python -m lska_demo <command>``: one parser (``main.py``) and one module per group of commands.

``models.py``: info, yaml, data, train, eval, zoo. ``analysis.py``: cost, designs, erf, attention, kernels.
``results.py``: report, bench. Each module has ``register(sub)``, which adds its commands with
``main.command`` and the shared variant arguments with ``main.add_variant_arguments``.
"""
