"""Console pages. They are shells without data: every figure is fetched from the API with the key the user
signed in with, so the console admits exactly what the key's role admits."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template
from typing import Annotated, Any

from litestar import MediaType, Response, get
from litestar.params import Parameter
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from assistant.errors import STATIC_FILE_EXCEPTION_HANDLERS

PAGES_DIR = Path(__file__).parent / "pages"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/console/static"

# path → (page file, title)
PAGES = {
    "sign-in": ("sign-in.html", "Sign in"),
    "agent": ("agent.html", "Agent desk"),
    "kpis": ("kpis.html", "KPI dashboard"),
    "knowledge": ("knowledge.html", "Knowledge"),
    "insights": ("insights.html", "Customer insights"),
}
# The pages load nothing from elsewhere: no CDN, no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@cache
def render(name: str) -> str:
    filename, title = PAGES[name]
    layout = Template((PAGES_DIR / "layout.html").read_text(encoding="utf-8"))
    return layout.substitute(
        title=title,
        page=name,
        main=(PAGES_DIR / filename).read_text(encoding="utf-8"),
        static=STATIC_PATH,
    )


def _page(name: str) -> Response[str]:
    return Response(
        render(name),
        media_type=MediaType.HTML,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


@get("/console", include_in_schema=False)
async def console_home() -> Redirect:
    return Redirect(path="/console/agent")


@get("/console/{page:str}", include_in_schema=False)
async def console_page(page: Annotated[str, Parameter(max_length=64)]) -> Response[str]:
    if page not in PAGES:
        return Response(
            {"error": {"code": "page_not_found", "message": f"No console page {page!r}."}},
            status_code=404,
            media_type=MediaType.JSON,
        )
    return _page(page)


def console_assets() -> Any:
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        include_in_schema=False,
        opt={"public": True},
        exception_handlers=STATIC_FILE_EXCEPTION_HANDLERS,
    )
