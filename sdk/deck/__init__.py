"""`sdk.deck`, as `flytekit.deck`: decks and their renderers.

    from sdk.deck import Deck, DeckField, MarkdownRenderer, TopFrameRenderer

The renderers of flytekitplugins-deck-standard (`BoxRenderer`, `TableRenderer`, ...) are here
too, and in `sdk.deck.renderer` (`sdk.values.renderers_standard` says what each needs).
"""

from sdk.deck.deck import Deck, DeckField, TimeLineDeck
from sdk.deck.renderer import (
    ArrowRenderer,
    BoxRenderer,
    FrameProfilingRenderer,
    GanttChartRenderer,
    ImageRenderer,
    MarkdownRenderer,
    PythonDependencyRenderer,
    SourceCodeRenderer,
    TableRenderer,
    TopFrameRenderer,
)

__all__ = ["ArrowRenderer", "BoxRenderer", "Deck", "DeckField", "FrameProfilingRenderer",
           "GanttChartRenderer", "ImageRenderer", "MarkdownRenderer", "PythonDependencyRenderer",
           "SourceCodeRenderer", "TableRenderer", "TimeLineDeck", "TopFrameRenderer"]
