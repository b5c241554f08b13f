"""Pick a training recipe by the size of the dataset with `conditional`.

Large datasets get a sharded fit unless a quick one is forced, others a quick fit, and an
empty dataset fails with a message that names the conditional. Only the branch taken runs;
the others show as SKIPPED in `graft status`.

    python examples/conditional.py
    graft run --remote --wait examples/conditional.py train --rows 50000
"""

from sdk import conditional, task, workflow


@task
def count_rows(rows: int) -> int:
    return rows


@task
def quick_fit(rows: int) -> str:
    return f"quick fit on {rows} rows"


@task
def sharded_fit(rows: int, shards: int) -> str:
    return f"sharded fit on {rows} rows in {shards} shards"


@task
def shards_for(rows: int) -> int:
    return -(-rows // 10_000)


@workflow
def train(rows: int = 2_000, force_quick: bool = False) -> str:
    n = count_rows(rows=rows)
    return (
        conditional("recipe")
        .if_((n >= 10_000) & force_quick.is_false())
        .then(sharded_fit(rows=n, shards=shards_for(rows=n)))
        .elif_(n > 0).then(quick_fit(rows=n))
        .else_().fail("the dataset is empty: nothing to train on")
    )


if __name__ == "__main__":
    print(train(rows=2_000))
    print(train(rows=50_000))
    print(train(rows=50_000, force_quick=True))
    try:
        train(rows=0)
    except Exception as exc:
        print(f"failed as expected: {exc}".splitlines()[-1])
