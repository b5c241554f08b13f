"""`sdk.core.node_creation`, as `flytekit.core.node_creation`."""

from sdk.authoring.node import Node, create_node

__all__ = ["Node", "create_node"]
