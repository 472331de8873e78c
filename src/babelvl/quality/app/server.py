"""The FastAPI app of ``babelvl annotate serve``: wiring of routes, middleware and error pages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import routes_admin, routes_annotator, routes_auth
from .db import init_db, open_store
from .middleware import BodySizeLimit, SecurityHeaders
from .web import AppConfig, NotLoggedIn, render

STATIC = Path(__file__).parent / "static"


def create_app(db_path: str | Path, *, secret: str | None = None, max_upload_bytes: int = 5_000_000,
               image_root: str | Path | None = None, secure_cookies: bool | None = None) -> FastAPI:
    """An app over one SQLite file (created if missing).

    ``secret`` signs session digests and page stamps; by default one is made and kept in the
    database. ``max_upload_bytes`` bounds every request body. ``image_root`` is where items'
    ``image_path`` resolve when their image was not uploaded.
    """
    db_path = Path(db_path)
    init_db(db_path)
    if secret is None:
        with open_store(db_path) as store:
            secret = store.secret()
    app = FastAPI(title="babelvl annotate", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = AppConfig(db_path, secret, max_upload_bytes,
                                 Path(image_root) if image_root is not None else None, secure_cookies)
    app.include_router(routes_auth.router)
    app.include_router(routes_annotator.router)
    app.include_router(routes_admin.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodySizeLimit, max_bytes=max_upload_bytes)
    app.add_middleware(SecurityHeaders)
    _add_error_pages(app)
    return app


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, _exc: Exception) -> Response:
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        return render("error.html", None, status=403, title="Not logged in",
                      message="You are not logged in (or your session expired). Log in and try again.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = render("error.html", None, status=exc.status_code, title=f"Error {exc.status_code}",
                          message=str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return render("error.html", None, status=400, title="Bad request", message=f"Bad request: {problems}")


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8080, **options: object) -> None:
    """Run the app with uvicorn until interrupted (what ``babelvl annotate serve`` calls)."""
    import uvicorn

    uvicorn.run(create_app(db_path, **options), host=host, port=port)  # type: ignore[arg-type]
