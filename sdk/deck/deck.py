"""`sdk.deck.deck`, as `flytekit.deck.deck`."""

from sdk.model.decks import DeckField
from sdk.runtime.deck import Deck, TimeLineDeck

__all__ = ["Deck", "DeckField", "TimeLineDeck"]
