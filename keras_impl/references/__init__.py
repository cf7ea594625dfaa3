"""Outside reference models: code from elsewhere, kept as written there, to measure ours against.

These are not twinnets networks: they have no twin in tf_impl/, no registry entry and no
parity tests. `twinnets bench` finds them by name (common.modules.reference_module).
"""
