from perf.charts import Line, line_chart


def test_a_chart_is_inline_svg_scaled_to_its_data_with_an_escaped_title():
    svg = line_chart(
        [Line("p50", [0, 50, 100], [1.0, 2.0, 4.0]), Line("budget", [0, 100], [5.0, 5.0], True)],
        since=0,
        until=100,
        unit="ms",
        title="<load> & run",
    )

    assert svg.startswith(
        '<svg viewBox="0 0 720 220" role="img" aria-label="&lt;load&gt; &amp; run"'
    )
    assert svg.count("<polyline") == 2
    assert ">5</text>" in svg  # the axis reaches the budget, near the data
    assert 'stroke-dasharray="6 4"' in svg
    assert "http" not in svg


def test_a_reference_far_above_the_data_is_named_not_drawn():
    svg = line_chart(
        [Line("p99", [0, 100], [0.01, 0.02]), Line("budget", [0, 100], [1000.0, 1000.0], True)],
        since=0,
        until=100,
        unit="ms",
        title="t",
    )

    assert "budget 1k (above)" in svg
    assert svg.count("<polyline") == 1  # the budget's line is left out
    assert ">0.05</text>" in svg  # the axis top fits the data
