"""The notebooks as an analyst sends them: each runs headless against a demo warehouse, draws
every chart it promises (known titles, in order) without a warning, and renders to one
self-contained HTML page; a run that cannot succeed fails in one line and publishes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from pipelines import cli, notebooks
from pipelines.notebooks import NotebookFailed, render_html
from pipelines.report import WarehouseUnavailable

pytestmark = [
    pytest.mark.xdist_group("demo_warehouse"),  # share the demo warehouse (see conftest)
    # The kernels run on a thread of render_html's: an exception there must fail the test.
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]

CHARTS = {
    "revenue": [
        "Weekly net sales by shop",
        "Average order value per month",
        "Discounts as a share of gross sales",
    ],
    "refunds": [
        "Weekly refunds",
        "Weekly refund rate",
        "Share of units refunded, by product",
        "Days from order to refund",
        "Refunds by restock status",
    ],
}


@pytest.fixture(scope="module")
def site(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The published pages, as `shopduck notebooks --html DIR` writes them."""
    out_dir = tmp_path_factory.mktemp("site")
    code = cli.main(["notebooks", "--html", str(out_dir), "--warehouse", str(demo_warehouse)])
    written = [out_dir / "revenue.html", out_dir / "refunds.html"]
    assert code == 0 and all(page.exists() for page in written)
    return {page.stem: page.read_text(encoding="utf-8") for page in written}


def visible_text(page: str) -> str:
    """The page without its inline styles and scripts: what a reader can see."""
    return re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.DOTALL)


@pytest.mark.parametrize("name", CHARTS)
def test_each_page_embeds_its_charts_with_their_titles(site, name):
    charts = re.findall(
        r'<img alt="([^"]*)"\s+src="data:image/png;base64,[A-Za-z0-9+/=]+"', site[name]
    )
    assert charts == CHARTS[name]
    assert site[name].count("<img") == len(charts)


@pytest.mark.parametrize("name", CHARTS)
def test_no_output_is_a_warning_or_an_error(site, name):
    text = visible_text(site[name])
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in text  # stderr, tracebacks
    assert "Warning" not in text


@pytest.mark.parametrize("name", CHARTS)
def test_each_page_opens_offline_with_its_tables_and_without_code(site, name):
    page = site[name]
    assert re.findall(r'(?:src|href)="(?!data:|#)[^"]*"', page) == []  # nothing to fetch
    assert "<table" in page
    assert "open_read_only" not in page  # code cells are left out
    title = {"revenue": "Revenue report", "refunds": "Refund report"}[name]
    assert f"<title>{title}</title>" in page


def test_a_missing_warehouse_fails_in_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(WarehouseUnavailable, match=r"no warehouse at .*absent\.duckdb"):
        render_html(tmp_path / "site", tmp_path / "absent.duckdb")
    assert not (tmp_path / "site").exists()


def test_a_failing_cell_fails_in_one_line_naming_its_notebook_and_nothing_is_written(
    tmp_path, monkeypatch
):
    warehouse = tmp_path / "shopduck.duckdb"
    duckdb.connect(str(warehouse)).close()
    fine, broken = tmp_path / "fine.py", tmp_path / "broken.py"
    fine.write_text("# %%\n1 + 1\n")
    broken.write_text('# %%\nraise ValueError("the first line\\nthe second line")\n')
    monkeypatch.setattr(notebooks, "NOTEBOOKS", (fine, broken))
    with pytest.raises(NotebookFailed) as raised:
        render_html(tmp_path / "site", warehouse)
    assert str(raised.value) == "broken.py: ValueError: the first line"
    assert not (tmp_path / "site").exists()  # not even the page of the notebook that ran


def test_without_the_notebooks_extra_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    warehouse = tmp_path / "shopduck.duckdb"
    duckdb.connect(str(warehouse)).close()
    monkeypatch.setattr(notebooks, "EXTRA", (*notebooks.EXTRA, "shopduck_no_such_module"))
    with pytest.raises(NotebookFailed, match=r"shopduck_no_such_module missing.*--extra notebooks"):
        render_html(tmp_path / "site", warehouse)
    assert not (tmp_path / "site").exists()
