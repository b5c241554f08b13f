"""`sdk.deck.renderer`, as `flytekit.deck.renderer`, with the renderers of
flytekitplugins-deck-standard's `flytekitplugins.deck.renderer` beside them."""

from sdk.values.renderers import (
    ArrowRenderer,
    MarkdownRenderer,
    PythonDependencyRenderer,
    Renderable,
    SourceCodeRenderer,
    TopFrameRenderer,
)
from sdk.values.renderers_standard import (
    BoxRenderer,
    FrameProfilingRenderer,
    GanttChartRenderer,
    ImageRenderer,
    TableRenderer,
)

__all__ = ["ArrowRenderer", "BoxRenderer", "FrameProfilingRenderer", "GanttChartRenderer",
           "ImageRenderer", "MarkdownRenderer", "PythonDependencyRenderer", "Renderable",
           "SourceCodeRenderer", "TableRenderer", "TopFrameRenderer"]
