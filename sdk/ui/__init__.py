"""`graft ui`: a live page of executions and their graphs, served by `sdk.ui.server`."""

from sdk.ui.server import make_app, serve

__all__ = ["make_app", "serve"]
