"""Bytewax: stateful stream processing in Python on a Rust dataflow host.

Build a `bytewax.dataflow.Dataflow`, attach inputs from `bytewax.inputs` or
`bytewax.connectors`, add steps, attach outputs, then run it with
`python -m bytewax.run module:flow` or `bytewax.testing.run_main(flow)`.

This package re-implements the Bytewax 0.16 Python API; programs written
for Bytewax 0.16 run unchanged.
"""

__all__ = []
