"""Vendored static assets, served from memory with content hashes and long cache lifetimes.

Every URL the templates emit carries `?v=<content hash>`; such requests are cached for a year
(`immutable`). A request with another or no hash gets `no-cache` with an ETag, so a stale page
never pins an old asset.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

STATIC_DIR = Path(__file__).parent / "static"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    digest: str


def _load() -> dict[str, Asset]:
    assets: dict[str, Asset] = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.is_file() and path.suffix in TYPES:
            body = path.read_bytes()
            assets[path.name] = Asset(body, TYPES[path.suffix], hashlib.sha256(body).hexdigest()[:16])
    return assets


ASSETS = _load()


def static_url(name: str) -> str:
    asset = ASSETS.get(name)
    if asset is None:
        raise KeyError(f"no static asset named {name!r} in {STATIC_DIR}")
    return f"/static/{name}?v={asset.digest}"


router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico")
def favicon() -> Response:
    asset = ASSETS["favicon.svg"]
    return Response(asset.body, media_type=asset.media_type, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/{name}")
def serve_static(name: str, request: Request) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        return Response(f"no static file named {name!r}", status_code=404, media_type="text/plain")
    etag = f'"{asset.digest}"'
    versioned = request.query_params.get("v") == asset.digest
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE if versioned else "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
