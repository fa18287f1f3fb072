"""Report text templates and the significance helper."""

import math

import numpy as np
import pytest

from nndl import stats
from nndl.run import templates

TEXT = "intro ignored\n## first\nP = {{p:.3g}}, $\\frac{1}{2}$, {{d.x}}, {{l.1}}\n\n## second\nplain\n"


def test_parse_sections_and_fill():
    sections = templates.parse(TEXT)
    assert list(sections) == ["first", "second"]
    assert templates.render(sections, "first", {"p": math.pi, "d": {"x": None}, "l": [1, 2]}) == \
        "P = 3.14, $\\frac{1}{2}$, n/a, 2"  # single braces (LaTeX) untouched, None -> n/a
    assert templates.field_names(sections["first"]) == ["p", "d.x", "l.1"]


@pytest.mark.parametrize("fields", [{"p": 1}, {"p": 1, "d": {}, "l": [1, 2]}, {"p": 1, "d": {"x": 0}, "l": [1]}])
def test_missing_field_names_it(fields):
    with pytest.raises(templates.TemplateError, match="template field"):
        templates.render(templates.parse(TEXT), "first", fields)


def test_missing_section_and_duplicate():
    with pytest.raises(templates.TemplateError, match="no section 'third'"):
        templates.render(templates.parse(TEXT), "third", {})
    with pytest.raises(templates.TemplateError, match="twice"):
        templates.parse("## a\n1\n## a\n2\n")


def test_beside_reads_the_module_md(tmp_path):
    (tmp_path / "exp.md").write_text("## k\nv = {{v}}\n", encoding="utf-8")
    assert templates.render(templates.beside(tmp_path / "exp.py"), "k", {"v": 7}) == "v = 7"


def test_mean_se_matches_numpy_and_ignores_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 7))
    mean, se = stats.mean_se(x, axis=1)
    np.testing.assert_allclose(mean, x.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(se, x.std(axis=1, ddof=1) / np.sqrt(7), rtol=1e-12)
    x[0, :6] = np.nan  # one finite value: mean known, no standard error
    mean, se = stats.mean_se(x, axis=1)
    assert mean[0] == x[0, 6] and np.isnan(se[0])
    assert np.isnan(stats.mean_se([np.nan, np.nan])[0])


@pytest.mark.parametrize("a,se_a,b,se_b,verdict", [
    (1.0, 0.1, 1.5, 0.1, "higher"),          # z = 3.5
    (1.0, 0.1, 1.2, 0.1, "no significant difference"),  # z = 1.4
    (1.0, 0.1, 0.5, 0.1, "lower"),
    (1.0, float("nan"), 5.0, 0.1, "no significant difference"),  # unknown uncertainty: no claim
    # a missing (diverged) value: no verdict at all, never "no significant difference"
    (1.0, 0.1, float("nan"), 0.1, "not comparable"),
    (float("nan"), 0.1, 1.0, 0.1, "not comparable"),
    (1.0, 0.1, float("inf"), float("nan"), "not comparable"),
])
def test_compare_verdicts(a, se_a, b, se_b, verdict):
    result = stats.compare(a, se_a, b, se_b)
    assert result.verdict == verdict
    assert result.difference == pytest.approx(b - a, nan_ok=True)
    assert result.significant == (verdict in ("higher", "lower"))
    assert result.comparable == (verdict != "not comparable")


def test_compare_paired_uses_the_spread_of_the_differences():
    # a shared offset per pair (seed/draw effect) cancels: independent s.e. would call this a tie
    base = np.array([0.1, 0.5, 0.9, 1.3, 1.7])
    c = stats.compare_paired(base, base + np.array([0.09, 0.11, 0.10, 0.12, 0.08]))
    np.testing.assert_allclose(c.difference, 0.10, rtol=1e-12)
    np.testing.assert_allclose(c.difference_se, np.std([0.09, 0.11, 0.10, 0.12, 0.08], ddof=1) / np.sqrt(5),
                               rtol=1e-12)
    assert c.verdict == "higher"
    assert stats.compare(base.mean(), base.std(ddof=1) / np.sqrt(5), base.mean() + 0.1,
                         base.std(ddof=1) / np.sqrt(5)).verdict == "no significant difference"
    noisy = stats.compare_paired(base, base + np.array([0.3, -0.2, 0.1, -0.3, 0.2]))
    assert noisy.verdict == "no significant difference"
    assert stats.compare_paired([1.0, np.nan, 2.0], [0.0, 5.0, 1.1]).difference == pytest.approx(-0.95)
    assert stats.compare_paired([1.0, 2.0], [np.nan, np.nan]).verdict == "not comparable"  # every pair diverged
