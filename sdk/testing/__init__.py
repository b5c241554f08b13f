"""`sdk.testing`, as `flytekit.testing`: helpers for unit tests of workflows.

    from sdk.testing import SecretsManager

`SecretsManager` names the variables and files secrets are read from (`sdk.runtime.secrets`).
"""

from sdk.runtime.secrets import SecretsManager

__all__ = ["SecretsManager"]
