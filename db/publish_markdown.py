"""datasette-render-markdown's template helpers, without its hook on every cell.

datasette-dashboards renders its markdown cards and descriptions with the
`render_markdown` template function and `{% markdown %}` tag of datasette-render-markdown.
That plugin also renders cells of columns named `*_markdown` as markdown, and to find out
it reads its settings from Datasette's merged metadata on every cell of every page: a
third of the time of a 1,000-row query page, for columns the archive does not have. This
plugin offers the two template helpers; `db.publish` unregisters the original.
"""

from __future__ import annotations

from typing import Any

import datasette_render_markdown as original
from datasette import hookimpl


class MarkdownTemplates:
    """A Datasette plugin (registered by `db.publish.make_datasette`)."""

    __name__ = "verdict_archive_markdown_templates"

    @hookimpl
    def extra_template_vars(self) -> dict[str, Any]:
        return {"render_markdown": original.render_markdown}

    @hookimpl
    def prepare_jinja2_environment(self, env: Any) -> None:
        env.add_extension(original.MarkdownExtension)


MARKDOWN_TEMPLATES = MarkdownTemplates()
