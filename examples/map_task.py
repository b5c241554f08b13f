"""Score a batch of customer reviews in parallel with `map_task`.

Each review is scored by its own task run. `functools.partial` fixes the word lists for every
item; `min_success_ratio` lets the batch succeed when a few reviews are malformed, and those
come back as `None`.

    python examples/map_task.py                                  # in-process
    graft run --remote --wait examples/map_task.py review_scores # on a cluster
"""

import functools
import typing

from sdk import map_task, task, workflow

REVIEWS = [
    "great product, works well",
    "arrived broken and the support was awful",
    "",
    "good value, great battery, poor manual",
    "terrible",
]


@task(retries=1)
def score_review(review: str, positive: typing.List[str], negative: typing.List[str]) -> int:
    """Positive words minus negative words; an empty review is an error."""
    words = review.replace(",", " ").split()
    if not words:
        raise ValueError("empty review")
    return sum(w in positive for w in words) - sum(w in negative for w in words)


@task
def summarize(scores: typing.List[typing.Optional[int]]) -> typing.Dict[str, int]:
    valid = [s for s in scores if s is not None]
    return {"scored": len(valid), "skipped": len(scores) - len(valid),
            "positive": sum(s > 0 for s in valid), "negative": sum(s < 0 for s in valid)}


@workflow
def review_scores(
    reviews: typing.List[str] = REVIEWS,
) -> typing.Tuple[typing.List[typing.Optional[int]], typing.Dict[str, int]]:
    score = functools.partial(score_review, positive=["great", "good", "well"],
                              negative=["broken", "awful", "poor", "terrible"])
    scores = map_task(score, concurrency=4, min_success_ratio=0.75)(review=reviews)
    return scores, summarize(scores=scores)


if __name__ == "__main__":
    print(review_scores())
