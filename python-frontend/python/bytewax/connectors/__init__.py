"""Ready-made inputs and outputs.

`bytewax.connectors.files` reads and writes line-oriented files and
directories; `bytewax.connectors.stdio` prints items to standard output.
"""

__all__ = []
