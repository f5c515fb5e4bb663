"""The ward board's files as the service serves them (the page itself is
exercised in a browser by tests/browser)."""

from __future__ import annotations

import re


async def test_root_serves_the_board_page(client) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert "<title>" in await resp.text()


async def test_every_module_the_page_loads_is_served_and_revalidated(client) -> None:
    page = await (await client.get("/")).text()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        resp = await client.get(asset)
        assert resp.status == 200, asset
        assert resp.headers["Cache-Control"] == "no-cache", asset


async def test_imports_between_modules_resolve(client) -> None:
    """Every `import ... from "./x.js"` in a served module names a served file."""
    seen, todo = set(), ["/static/js/app.js"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        resp = await client.get(path)
        assert resp.status == 200, path
        base = path.rsplit("/", 1)[0]
        for target in re.findall(r"from\s+['\"](\.{1,2}/[^'\"]+)['\"]", await resp.text()):
            parts = (base + "/" + target).split("/")
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part != ".":
                    resolved.append(part)
            todo.append("/".join(resolved))
    assert len(seen) > 5


async def test_a_missing_static_file_is_404(client) -> None:
    assert (await client.get("/static/js/nope.js")).status == 404
