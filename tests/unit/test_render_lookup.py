"""bot/render.py's ``_Environment.getattr`` (a dict's item first) renders as Jinja2's own
``getattr`` does, over every block, both locales, both platforms, with the scenario's values
and hand-made values, including values whose keys are names of dict attributes."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from bot import render as render_mod
from bot.render import LOCALES, Renderer
from tests.unit.test_templates import (  # noqa: F401  (fixtures)
    _hand_values,
    blocks,
    recorded,
)


def _render_all(renderer: Renderer, scenario: dict[str, Any]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for key in sorted(blocks(renderer, "nl")):
        got = scenario.get(key)
        values = dict(got.values) if got else _hand_values(key, scenario)
        for locale in LOCALES:
            try:
                out[(key, locale)] = renderer.html(key, values, locale, "Europe/Amsterdam")
            except Exception as e:
                out[(key, locale)] = f"!{type(e).__name__}: {e}"
    return out


def test_every_block_renders_as_with_jinjas_own_getattr(
        recorded: dict[str, Any], monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for platform in ("matrix", "teams"):
        new = _render_all(Renderer(platform=platform), recorded)
        with monkeypatch.context() as m:
            m.setattr(render_mod._Environment, "getattr", Environment.getattr)
            old = _render_all(Renderer(platform=platform), recorded)
        diff = {k: (old[k], new[k]) for k in old if old[k] != new[k]}
        assert not diff, (platform, sorted(diff)[:5])
        assert len(new) > 200


def test_values_named_like_dict_attributes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = ("{{ d.items }}|{{ d.name }}|{{ d.keys }}|{{ d.__class__ }}|{{ d.get }}|"
           "{{ d['items'] }}|{{ (d.missing is defined) }}|{{ o.name }}")
    from collections import OrderedDict

    values = {"d": {"items": "I", "name": "N", "keys": "K", "get": "G"},
              "o": OrderedDict(name="ON")}
    new = render_mod._Environment().from_string(src).render(values)
    old = Environment().from_string(src).render(values)
    assert new == old
