"""Execute the revenue and refund notebooks against a warehouse and render them to
self-contained HTML (code hidden, charts embedded), for a scheduled job to publish."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import ShopduckError
from pipelines.report import find_warehouse
from pipelines.warehouse import Warehouse, as_warehouse

if TYPE_CHECKING:
    from nbformat import NotebookNode

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = (NOTEBOOK_DIR / "revenue.py", NOTEBOOK_DIR / "refunds.py")
# The `notebooks` extra: what runs and renders the notebooks (a loader installs none of it).
EXTRA = ("ipykernel", "jupytext", "matplotlib", "nbclient", "nbconvert")
CELL_TIMEOUT = 600  # seconds: a cell of the notebooks queries and draws; a large warehouse is slow

# The lab template without its scripts from CDNs (require.js, MathJax, Mermaid: the notebooks use
# none, and without MathJax a "$" in the text stays a dollar), so the page opens offline; each
# chart's title (the "alt" the notebooks set) is its alt text, for screen readers and search.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output">
<img alt="{{ output.metadata.get('image/png', {}).get('alt', '') | escape_html }}"
src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}">
</div>
{% endblock data_png %}
"""


class NotebookFailed(ShopduckError):
    """A notebook could not be executed or rendered."""


async def _execute(notebook: Path, warehouse: Warehouse) -> NotebookNode:
    """Run a Jupytext notebook in a fresh kernel that reads `warehouse`; its outputs filled in."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    node = jupytext.read(notebook)
    # The kernel talks over Unix sockets in a private folder, not TCP ports: nothing else on the
    # machine can reach it, and it has no warning about plain-text TCP to print into a cron log.
    with tempfile.TemporaryDirectory(prefix="shopduck-kernel-") as sockets:
        ipc = {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}
        client = NotebookClient(
            node,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(notebook.parent)}},
            config=Config({"KernelManager": ipc}),
        )
        try:
            await client.async_execute(env={**os.environ, **warehouse.environment()})
        except CellExecutionError as error:
            reason = (error.evalue or "").strip().partition("\n")[0]
            raise NotebookFailed(f"{notebook.name}: {error.ename}: {reason}") from error
    return node


async def _execute_all(notebooks: tuple[Path, ...], warehouse: Warehouse) -> list[NotebookNode]:
    """Run the notebooks side by side, each in its own kernel process (publishing takes the
    time of the slowest, not the sum); every kernel finishes before the first failure is raised."""
    results = await asyncio.gather(
        *(_execute(notebook, warehouse) for notebook in notebooks), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _run_all(notebooks: tuple[Path, ...], warehouse: Warehouse) -> list[NotebookNode]:
    """`_execute_all` on an event loop in a thread of its own. On the main thread's loop
    nbclient installs SIGINT and SIGTERM handlers that turn Ctrl-C into a cancelled task and a
    traceback; here Ctrl-C stays a KeyboardInterrupt, raised once the kernels have shut down."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(_execute_all(notebooks, warehouse))
    done = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            # asyncio.wait, not the task: its failure is raised below, not printed by the thread.
            loop.run_until_complete(asyncio.wait([task]))
            leftovers = asyncio.all_tasks(loop)  # nbclient's kernel pollers, as asyncio.run does
            for leftover in leftovers:
                leftover.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        finally:
            loop.close()
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        # An Event, not thread.join(): a join interrupted by Ctrl-C marks the thread finished.
        done.wait()
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(task.cancel)  # nbclient shuts each kernel down as it unwinds
        done.wait()
        raise
    return task.result()


def _to_html(notebook: NotebookNode) -> str:
    """One HTML page holding everything (styles and charts inline); code cells left out."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file="shopduck.html.j2",
        extra_loaders=[DictLoader({"shopduck.html.j2": TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def render_html(out_dir: Path, warehouse: Warehouse | Path | None = None) -> list[Path]:
    """Execute every notebook against `warehouse` (default: `find_warehouse()`) and write
    `<name>.html` into `out_dir`; returns the files written. Nothing is written unless every
    notebook ran, so a failed run leaves the last published pages as they were."""
    warehouse = as_warehouse(warehouse) if warehouse is not None else find_warehouse()
    # a missing or locked warehouse: one line, before any kernel
    warehouse.analyst_connection().close()
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise NotebookFailed(
            f"rendering the notebooks needs the `notebooks` extra ({', '.join(missing)} missing): "
            "uv sync --extra notebooks"
        )
    executed = _run_all(NOTEBOOKS, warehouse)
    pages = {path.stem: _to_html(node) for path, node in zip(NOTEBOOKS, executed, strict=True)}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, page in pages.items():
        target = out_dir / f"{name}.html"
        partial = target.with_suffix(".html.tmp")
        partial.write_text(page, encoding="utf-8")
        partial.replace(target)  # atomic: a web server never serves half a page
        written.append(target)
    return written
