"""Renderers: objects whose `to_html(value)` gives HTML for a deck, as flytekit's.

flytekit's own (`flytekit.deck.renderer`): `TopFrameRenderer`, `ArrowRenderer`,
`MarkdownRenderer`, `SourceCodeRenderer`, `PythonDependencyRenderer`. Those of its
flytekitplugins-deck-standard live in `sdk.values.renderers_standard` (`BoxRenderer`,
`TableRenderer`, ...). A renderer in `Annotated[T, renderer]` renders that input or output in
a task's Input and Output decks (`value_html`).

Markdown needs markdown-it-py (a dependency of graft's, as of flytekit's). Pygments colours
source code when it is installed; without it the code is shown plain.
"""

from __future__ import annotations

import html
import importlib.metadata
import typing
from typing import Any, Protocol, runtime_checkable

from sdk.values.structured_dataset import (
    StructuredDataset,
    StructuredDatasetTransformerEngine,
    ensure_builtins,
)
from sdk.values.structured_formats import ArrowRenderer, TopFrameRenderer
from sdk.values.type_engine import TypeEngine, TypeTransformer

__all__ = ["ArrowRenderer", "MarkdownRenderer", "PythonDependencyRenderer", "Renderable",
           "SourceCodeRenderer", "TopFrameRenderer", "value_html"]


@runtime_checkable
class Renderable(Protocol):
    def to_html(self, python_value: Any) -> str:
        """HTML for `python_value`."""
        raise NotImplementedError


class MarkdownRenderer:
    """Markdown text as HTML (markdown-it-py, CommonMark; raw HTML in the text is kept, as
    flytekit keeps it)."""

    def to_html(self, text: str) -> str:
        from markdown_it import MarkdownIt

        return str(MarkdownIt().render(text))


class SourceCodeRenderer:
    """Python source code as HTML: coloured by Pygments (style "colorful") when it is
    installed, else plain in a `<pre>`."""

    def __init__(self, title: str = "Source Code"):
        self._title = title

    def to_html(self, source_code: str) -> str:
        try:
            from pygments import highlight
            from pygments.formatters.html import HtmlFormatter
            from pygments.lexers.python import PythonLexer
        except ImportError:
            return f'<pre class="highlight">{html.escape(source_code)}</pre>'
        formatter = HtmlFormatter(style="colorful")
        css = formatter.get_style_defs(".highlight").replace("#fff0f0", "#ffffff")
        return f"<style>{css}</style>{highlight(source_code, PythonLexer(), formatter)}"


class PythonDependencyRenderer:
    """The Python packages installed where the task runs, as a table, with a button that
    copies them as requirements.txt (read from the installed distributions' metadata, where
    flytekit runs `pip list` and `pip freeze`)."""

    def __init__(self, title: str = "Dependencies"):
        self._title = title

    def to_html(self) -> str:
        found: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            name = dist.metadata["Name"] if dist.metadata else None
            if name and name not in found:
                found[name] = dist.version
        packages = sorted(found.items(), key=lambda nv: nv[0].lower())
        rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(v)}</td></tr>\n"
                       for n, v in packages)
        requirements = "\n".join(f"{n}=={v}" for n, v in packages)
        return f"""<script>
async function copyTable() {{
  const text = document.getElementById('requirements_txt').innerText;
  try {{ await navigator.clipboard.writeText(text); }} catch (err) {{ console.log(err); }}
}}
</script>
<button onclick="copyTable()"><span>Copy table as requirements.txt</span></button>
<h3>Python Dependencies</h3>
<table>
<tr><th style="text-align:left;">Name</th><th style="text-align:left;">Version</th></tr>
{rows}</table>
<div id="requirements_txt" style="display:none">{html.escape(requirements)}</div>"""


def value_html(value: Any, python_type: Any) -> str:
    """HTML for an input or output value in a task's deck: a renderer in its annotation
    (`Annotated[T, renderer]`), else the renderer registered for a dataframe's type
    (`TopFrameRenderer` for pandas), else what its type transformer gives, else its text,
    escaped (flytekit leaves that text unescaped)."""
    if typing.get_origin(python_type) is typing.Annotated:
        for arg in python_type.__metadata__:
            if isinstance(arg, Renderable):
                return str(arg.to_html(value))
        python_type = typing.get_args(python_type)[0]
    frame = value.dataframe if isinstance(value, StructuredDataset) else value
    ensure_builtins()
    renderer = StructuredDatasetTransformerEngine.Renderers.get(type(frame))
    if renderer is not None:
        return str(renderer.to_html(frame))
    if python_type is None or python_type is typing.Any:
        python_type = type(value)
    try:
        transformer = TypeEngine.get_transformer(python_type)
    except Exception:  # a type no transformer takes: its text will do
        transformer = None
    if transformer is not None and type(transformer).to_html is not TypeTransformer.to_html:
        try:
            return str(transformer.to_html(None, value, python_type))
        except NotImplementedError:
            pass
    return html.escape(str(value))
