"""The pure model: specs, the engine, reports, types, errors; no I/O.

Importing the package installs the graph spec's JSON codec (`sdk.model.spec_json`), which
`sdk.model.spec` reads and writes specs with but does not import.
"""

from sdk.model import spec_json  # noqa: F401  (installs the spec codec)
