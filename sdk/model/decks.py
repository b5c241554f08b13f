"""What a task's deck is made of and where it is kept: the names both the decorators (which
check a task's deck options) and the runners (which make the deck, `sdk.runtime.deck`) use."""

from __future__ import annotations

from enum import Enum
from typing import Any

from sdk.model.errors import ConfigError


class DeckField(str, Enum):
    """The decks graft makes of a task's run, chosen with `@task(deck_fields=...)`."""

    INPUT = "Input"
    OUTPUT = "Output"
    SOURCE_CODE = "Source Code"
    TIMELINE = "Timeline"
    DEPENDENCIES = "Dependencies"


# flytekit's default for `deck_fields`: all of them
DEFAULT_DECK_FIELDS = (DeckField.SOURCE_CODE, DeckField.DEPENDENCIES, DeckField.TIMELINE,
                       DeckField.INPUT, DeckField.OUTPUT)


def deck_key(execution_id: str, node_id: str, attempt: int) -> str:
    """Where the page of an attempt's deck is kept in the store."""
    return f"decks/{execution_id}/{node_id}/{attempt}.html"


def deck_options(where: str, enable_deck: bool | None, disable_deck: bool | None,
                 deck_fields: Any) -> tuple[bool, tuple[DeckField, ...]]:
    """(enabled, fields) from a task's options, checked as flytekit checks them: decks are
    off unless asked for (`disable_deck`, deprecated in flytekit, is the opposite of
    `enable_deck`; not both); the fields count only when decks are on."""
    if enable_deck is not None and disable_deck is not None:
        raise ConfigError(f"{where}: only one of [disable_deck, enable_deck] can be set")
    enabled = bool(enable_deck) if enable_deck is not None else disable_deck is False
    if deck_fields is None or not enabled:
        return enabled, ()
    if isinstance(deck_fields, str) or not isinstance(deck_fields, (tuple, list)):
        raise ConfigError(f"{where}: deck_fields must be a tuple of DeckField, got "
                          f"{deck_fields!r}")
    fields = []
    for field in deck_fields:
        try:
            fields.append(DeckField(field))
        except ValueError:
            raise ConfigError(f"{where}: {field!r} in deck_fields is not a deck field; use "
                              f"DeckField's: {', '.join(f.value for f in DeckField)}"
                              ) from None
    return enabled, tuple(fields)
