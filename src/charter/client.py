"""Python SDK over the HTTP API. The CLI and CI pipelines use it.

from charter.client import Client
c = Client("http://127.0.0.1:8000", token="chr_...")
c.get("/api/v1/systems")
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class ClientError(Exception):
    """An error answer from the server (problem+json) or a failure to reach it."""

    def __init__(self, status: int, detail: str, problem: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem = problem or {}


def config_dir() -> Path:
    return Path(os.environ.get("CHARTER_CONFIG_DIR") or Path.home() / ".config" / "charter")


def load_credentials() -> dict[str, str]:
    path = config_dir() / "credentials.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_credentials(url: str, token: str, username: str) -> Path:
    path = config_dir() / "credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "token": token, "username": username}))
    path.chmod(0o600)
    return path


class Client:
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        saved = load_credentials()
        self.url = (url or os.environ.get("CHARTER_URL") or saved.get("url") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("CHARTER_TOKEN") or saved.get("token")
        headers = {"User-Agent": "charter-client"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(0, f"cannot reach Charter at {self.url}: {exc}") from exc
        if resp.status_code >= 400:
            try:
                problem = resp.json()
                detail = problem.get("detail") or problem.get("title") or resp.text
            except ValueError:
                problem, detail = {}, resp.text or resp.reason_phrase
            raise ClientError(resp.status_code, str(detail), problem)
        if resp.status_code == 204 or not resp.content:
            return None
        if resp.headers.get("content-type", "").startswith("application/json"):
            return resp.json()
        return resp.content

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params={k: v for k, v in params.items() if v is not None})

    def paginate(self, path: str, **params: Any) -> list[Any]:
        """Follow next_cursor to the end and return every item."""
        items: list[Any] = []
        cursor = None
        while True:
            page = self.get(path, **params, cursor=cursor)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    # Convenience methods for common pipeline calls.
    def login(self, username: str, password: str) -> dict[str, Any]:
        data: dict[str, Any] = self.post("/api/v1/auth/login", {"username": username, "password": password})
        self.token = data["token"]
        self._http.headers["Authorization"] = f"Bearer {self.token}"
        return data
