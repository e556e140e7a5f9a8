import pytest

from cases.markdown import render_markdown


def test_markdown_renders_lists_and_emphasis():
    html = render_markdown("- **low** T1 signal\n- high T2 signal")
    assert "<li><strong>low</strong> T1 signal</li>" in html
    assert "<ul>" in html


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ("[click](javascript:alert(1))", "javascript:"),
        ("[img](data:text/html;base64,PHNjcmlwdD4=)", "data:"),
        ('<p style="position:fixed">x</p>', "style="),
        ("<iframe src='https://example.org'></iframe>", "<iframe"),
    ],
)
def test_markdown_output_is_sanitised(source, forbidden):
    assert forbidden not in render_markdown(source)


def test_links_keep_http_and_gain_safe_rel():
    html = render_markdown("[source](https://example.org/case)")
    assert 'href="https://example.org/case"' in html
    assert "noopener" in html
