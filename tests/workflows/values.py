"""Value types the test workflows pass around: dataclasses, an Enum, a pickled class."""

import enum
from dataclasses import dataclass, field


@dataclass
class Point:
    x: float
    y: float


@dataclass
class Segment:
    name: str
    a: Point
    b: Point
    tags: list[str] = field(default_factory=list)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Opaque:
    """A plain class with no converter: it travels pickled."""

    def __init__(self, payload: dict, weight: float):
        self.payload = payload
        self.weight = weight

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Opaque) and self.payload == other.payload
                and self.weight == other.weight)

    def __hash__(self) -> int:
        return hash(self.weight)
