"""The renderers of flytekitplugins-deck-standard (`flytekitplugins.deck.renderer`), which
graft ships in `sdk.deck.renderer` beside flytekit's own.

Each needs only what its value needs (pandas for dataframes). Where the plugin draws with
plotly or profiles with ydata-profiling, graft does too when that package is installed, and
otherwise draws a light figure of its own (no script, nothing fetched):

- `BoxRenderer(column)`: plotly's box plot; else an SVG box plot (quartiles, whiskers at
  1.5 IQR, outliers as points).
- `GanttChartRenderer`: plotly's timeline; else an SVG bar per row.
- `FrameProfilingRenderer`: ydata-profiling's report; else pandas' `describe()` of every
  column.
- `ImageRenderer`: Pillow converts the image to PNG; else a file's bytes as they are (PNG,
  JPEG, GIF, WebP or SVG).
- `TableRenderer` needs nothing but pandas.
"""

from __future__ import annotations

import base64
import html
import math
import mimetypes
import os
from typing import Any

__all__ = ["BoxRenderer", "FrameProfilingRenderer", "GanttChartRenderer", "ImageRenderer",
           "TableRenderer"]


def _plotly_express() -> Any:
    try:
        import plotly.express as px
    except ImportError:
        return None
    return px


class BoxRenderer:
    """A box plot of one column of a DataFrame: the box spans the first to the third
    quartile, a line marks the median, the whiskers reach the furthest values within 1.5
    times the interquartile range, and values beyond are drawn as points."""

    def __init__(self, column_name: str):
        self._column_name = column_name

    def to_html(self, df: Any) -> str:
        px = _plotly_express()
        if px is not None:
            return str(px.box(df, y=self._column_name).to_html())
        values = sorted(float(v) for v in df[self._column_name]
                        if v is not None and not (isinstance(v, float) and math.isnan(v)))
        return _box_svg(str(self._column_name), values)


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (pandas' and numpy's default)."""
    at = (len(values) - 1) * q
    low = math.floor(at)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (at - low)


def _box_svg(name: str, values: list[float]) -> str:
    title = html.escape(name)
    if not values:
        return f'<p class="box-plot">{title}: no values</p>'
    q1, median, q3 = (_quantile(values, q) for q in (0.25, 0.5, 0.75))
    iqr = q3 - q1
    low = min(v for v in values if v >= q1 - 1.5 * iqr)
    high = max(v for v in values if v <= q3 + 1.5 * iqr)
    outliers = [v for v in values if v < low or v > high]
    top, bottom = values[-1], values[0]
    span = (top - bottom) or 1.0
    height, pad = 300, 20

    def y(v: float) -> float:
        return round(pad + (top - v) / span * (height - 2 * pad), 2)

    labelled: list[float] = []  # values whose tick is at least 12 px from the others
    for v in (median, bottom, top, q1, q3, low, high):
        if all(abs(y(v) - y(w)) >= 12 for w in labelled):
            labelled.append(v)
    ticks = "".join(
        f'<text x="55" y="{y(v) + 4}" text-anchor="end" font-size="11">{v:g}</text>'
        for v in sorted(labelled))
    points = "".join(f'<circle cx="120" cy="{y(v)}" r="3" fill="none" stroke="#636efa"/>'
                     for v in outliers)
    return (
        f'<figure class="box-plot"><figcaption>{title} (n={len(values)}: median {median:g}, '
        f'quartiles {q1:g} and {q3:g})</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="{height}" '
        f'role="img" aria-label="box plot of {title}">'
        f'<line x1="60" y1="{pad}" x2="60" y2="{height - pad}" stroke="#999"/>{ticks}'
        f'<line x1="120" y1="{y(high)}" x2="120" y2="{y(q3)}" stroke="#636efa"/>'
        f'<line x1="120" y1="{y(q1)}" x2="120" y2="{y(low)}" stroke="#636efa"/>'
        f'<line x1="100" y1="{y(high)}" x2="140" y2="{y(high)}" stroke="#636efa"/>'
        f'<line x1="100" y1="{y(low)}" x2="140" y2="{y(low)}" stroke="#636efa"/>'
        f'<rect x="80" y="{y(q3)}" width="80" height="{round(y(q1) - y(q3), 2)}" '
        f'fill="#c5c9fd" stroke="#636efa"/>'
        f'<line x1="80" y1="{y(median)}" x2="160" y2="{y(median)}" stroke="#1f2a9e" '
        f'stroke-width="2"/>{points}</svg></figure>')


class TableRenderer:
    """A DataFrame as a styled HTML table, optionally with other column labels."""

    def to_html(self, df: Any, header_labels: list[Any] | None = None,
                table_width: int | None = None) -> str:
        if header_labels is not None and len(header_labels) == len(df.columns):
            df = df.copy()
            df.columns = header_labels
        width = f"width: {table_width}px;" if table_width is not None else ""
        style = (
            "<style>.table-class { border: 1px solid #ccc; border-collapse: collapse; "
            f"font-family: Arial, sans-serif; color: #333; {width} }}"
            ".table-class th, .table-class td { border: 1px solid #ccc; padding: 8px; }"
            ".table-class tr:nth-child(even) { background-color: #f2f2f2; }"
            ".table-class tr:hover { background-color: #ddd; }"
            ".table-class th { text-align: center; }</style>")
        return style + str(df.to_html(classes="table-class", index=False))


class GanttChartRenderer:
    """A timeline of a DataFrame's rows: columns "Start" and "Finish" (datetimes) and
    "Name"."""

    def to_html(self, df: Any, chart_width: int | None = None) -> str:
        px = _plotly_express()
        if px is not None:
            fig = px.timeline(df, x_start="Start", x_end="Finish", y="Name", color="Name",
                              width=chart_width)
            fig.update_yaxes(showticklabels=False, title="")
            fig.update_layout(autosize=True, legend={"orientation": "h", "y": 1.02})
            return str(fig.to_html())
        rows = [(str(n), s, f) for n, s, f in zip(df["Name"], df["Start"], df["Finish"])]
        if not rows:
            return '<p class="gantt">no rows</p>'
        first = min(s for _, s, _ in rows)
        total = max((f - first).total_seconds() for _, _, f in rows) or 1.0
        width = chart_width or 600
        bars = []
        for i, (name, start, finish) in enumerate(rows):
            x = (start - first).total_seconds() / total * (width - 160)
            w = max(1.0, (finish - start).total_seconds() / total * (width - 160))
            bars.append(
                f'<text x="0" y="{i * 24 + 16}" font-size="12">{html.escape(name[:22])}</text>'
                f'<rect x="{160 + x:.1f}" y="{i * 24 + 4}" width="{w:.1f}" height="16" '
                f'fill="#636efa"><title>{html.escape(name)}: {start} to {finish}</title></rect>')
        return (f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" width="{width}" '
                f'height="{len(rows) * 24 + 8}" role="img" aria-label="timeline">'
                f'{"".join(bars)}</svg>')


class FrameProfilingRenderer:
    """A profile of a DataFrame: ydata-profiling's report when it is installed, else the
    statistics of pandas' `describe()` for every column."""

    def __init__(self, title: str = "Pandas Profiling Report"):
        self._title = title

    def to_html(self, df: Any) -> str:
        try:
            import ydata_profiling
        except ImportError:
            summary = df.describe(include="all").to_html()
            return (f"<h2>{html.escape(self._title)}</h2><p>(ydata-profiling is not "
                    f"installed: pandas' describe() of each column)</p>{summary}")
        return str(ydata_profiling.ProfileReport(df, title=self._title).to_html())


class ImageRenderer:
    """An image (a `File`, or a PIL image) as an `<img>` holding its data as base64."""

    def to_html(self, image_src: Any) -> str:
        if isinstance(image_src, os.PathLike) and hasattr(image_src, "download"):
            path = image_src.download()
            try:
                from PIL import Image
            except ImportError:
                return _img(*_file_image(path))
            with Image.open(path) as img:
                return _img(_png(img), "image/png")
        if type(image_src).__module__.startswith("PIL."):
            return _img(_png(image_src), "image/png")
        raise ValueError("Unsupported image source type")


def _png(img: Any) -> bytes:
    import io

    buffered = io.BytesIO()
    img.save(buffered, format="PNG")
    return buffered.getvalue()


_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _file_image(path: str) -> tuple[bytes, str]:
    with open(path, "rb") as fh:
        data = fh.read()
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return data, mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return data, "image/webp"
    guessed = mimetypes.guess_type(path)[0]
    if guessed == "image/svg+xml":
        return data, guessed
    raise ValueError(f"{os.path.basename(path)} is not an image graft can show without "
                     f"Pillow (PNG, JPEG, GIF, WebP or SVG)")


def _img(data: bytes, mime: str) -> str:
    return (f'<img src="data:{mime};base64,{base64.b64encode(data).decode()}" '
            f'alt="Rendered Image" />')
