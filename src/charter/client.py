"""Python SDK over the HTTP API. The CLI and CI pipelines use it.

from charter.client import Client
c = Client("http://127.0.0.1:8000", token="chr_...")
c.get("/api/v1/systems")
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from charter.prompts.cache import CacheKey, Default, Fetched, NotModified, Prompt, PromptCache

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
        prompt_ttl: float = 60.0,
        prompt_max_stale: float | None = None,
        prompt_retry_after: float = 5.0,
    ) -> None:
        saved = load_credentials()
        self.url = (url or os.environ.get("CHARTER_URL") or saved.get("url") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("CHARTER_TOKEN") or saved.get("token")
        headers = {"User-Agent": "charter-client"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)
        self._prompt_options = {"ttl": prompt_ttl, "max_stale": prompt_max_stale, "retry_after": prompt_retry_after}
        self._prompts: PromptCache | None = None

    def close(self) -> None:
        if self._prompts is not None:
            self._prompts.close()
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
            raise _error(resp)
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

    # Prompts (docs/prompts.md).
    def get_prompt(
        self,
        system: str,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
        default: Default | None = None,
    ) -> Prompt:
        """The prompt `name@label` (default `production`) or `name@version` of a system, from an in-process cache:
        fresh entries (younger than `prompt_ttl`) are answered without a request; stale ones at once while a
        background thread revalidates them (ETag, 304); when Charter cannot be reached, the last known good prompt,
        else `default` (a template, chat messages or a Prompt; marked `is_fallback`). `prompt.render(**vars)` fails
        naming every missing variable; label metrics and traces with `prompt.name_at_version`."""
        return self.prompt_cache().get(system, name, label=label, version=version, default=default)

    def prompt_cache(self) -> PromptCache:
        """The client's prompt cache (stats, invalidate, refresh)."""
        if self._prompts is None:
            from charter.prompts.cache import PromptCache

            self._prompts = PromptCache(self._fetch_prompt, **self._prompt_options)  # type: ignore[arg-type]
        return self._prompts

    def _fetch_prompt(self, key: CacheKey, etag: str | None) -> Fetched | NotModified:
        from charter.prompts.cache import NOT_MODIFIED, Fetched, Prompt, PromptUnreachableError

        params: dict[str, Any] = {"version": key.version} if key.version is not None else {"label": key.label}
        headers = {"If-None-Match": etag} if etag else {}
        try:
            resp = self._http.get(f"/api/v1/systems/{key.system}/prompts/{key.name}", params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise PromptUnreachableError(f"cannot reach Charter at {self.url}: {exc}") from exc
        if resp.status_code == 304:
            return NOT_MODIFIED
        if resp.status_code >= 500:
            raise PromptUnreachableError(f"Charter answered {resp.status_code} for {key}")
        if resp.status_code >= 400:
            raise _error(resp)
        prompt = Prompt.from_dict(resp.json(), system=key.system, label=key.label)
        return Fetched(prompt, resp.headers.get("etag"))

    # Convenience methods for common pipeline calls.
    def login(self, username: str, password: str) -> dict[str, Any]:
        data: dict[str, Any] = self.post("/api/v1/auth/login", {"username": username, "password": password})
        self.token = data["token"]
        self._http.headers["Authorization"] = f"Bearer {self.token}"
        return data

    # Monitoring (docs/monitoring.md).
    def log_metrics(
        self, system: str, points: Any, batch_id: str | None = None, *, batch_size: int = 1000
    ) -> dict[str, Any]:
        """Push metric points: a list of {name, value, ts?, labels?} or one reading {name: value, ...} (now).

        Sent in batches of `batch_size`, each with an id (`batch_id`, suffixed per batch), so a retried call
        is answered without storing anything twice. Returns {accepted, batches, replayed, replayed_points,
        alerts}: `accepted` counts newly stored points; `replayed` the batches already stored under their id.
        """
        import uuid
        from datetime import datetime

        if isinstance(points, dict):
            points = [{"name": k, "value": v} for k, v in points.items()]
        rows = [{**p, "ts": p["ts"].isoformat()} if isinstance(p.get("ts"), datetime) else p for p in points]
        base = batch_id or uuid.uuid4().hex
        chunks = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)] or [[]]
        accepted, replayed, replayed_points, alerts = 0, 0, 0, []
        for n, chunk in enumerate(chunks):
            bid = base if len(chunks) == 1 else f"{base}-{n}"
            result = self.post(f"/api/v1/systems/{system}/metrics", {"batch_id": bid, "points": chunk})
            if result.get("replayed"):  # already stored under this id: the server stored nothing new
                replayed += 1
                replayed_points += result["accepted"]
                continue
            accepted += result["accepted"]
            alerts.extend(result["alerts"])
        return {
            "accepted": accepted,
            "batches": len(chunks),
            "replayed": replayed,
            "replayed_points": replayed_points,
            "alerts": alerts,
        }

    def guard(self, text: str, *, vendor: str, scope: str = "", system: str | None = None) -> dict[str, Any]:
        """Apply the vendor's PII egress policy to text before sending it: ``result["text"]`` is what may be sent
        (None when ``result["blocked"]``); pseudonyms are restored from the answer with :meth:`restore`."""
        body = {"text": text, "vendor": vendor, "scope": scope, "system": system}
        result: dict[str, Any] = self.post("/api/v1/pii/guard", body)
        return result

    def restore(self, text: str, *, scope: str = "") -> str:
        """A vendor's answer with the pseudonyms of ``scope`` replaced by the original values."""
        result: dict[str, Any] = self.post("/api/v1/pii/restore", {"text": text, "scope": scope})
        return str(result["text"])

    def reference_profile(self, system: str, name: str = "reference", release: str = "") -> dict[str, Any]:
        """The stored reference profile (its bin edges are what current profiles must be built on)."""
        data: dict[str, Any] = self.get(f"/api/v1/systems/{system}/drift/profiles/{name}", release=release or None)
        return data["profile"]  # type: ignore[no-any-return]

    def upload_profile(
        self,
        system: str,
        profile: dict[str, Any],
        name: str = "reference",
        release: str = "",
        version: int | None = None,
    ) -> dict[str, Any]:
        """Store a reference profile built locally (charter.monitoring.drift.profiles.build_profile)."""
        body = {"profile": profile, "release": release, "version": version}
        return self.request("PUT", f"/api/v1/systems/{system}/drift/profiles/{name}", json=body)  # type: ignore[no-any-return]

    def check_drift(
        self, system: str, current: dict[str, Any], reference: str = "reference", release: str = "", **options: Any
    ) -> dict[str, Any]:
        """Check a current profile (built on the reference's edges) for drift; options as in DriftOptionsIn."""
        body = {"reference": reference, "release": release, "current": current, "options": options}
        return self.post(f"/api/v1/systems/{system}/drift/checks", body)  # type: ignore[no-any-return]


def _error(resp: httpx.Response) -> ClientError:
    """The ClientError for an error answer (problem+json, or the first line of whatever came)."""
    try:
        problem = resp.json()
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        detail = problem.get("detail") or problem.get("title") or resp.reason_phrase
    else:
        problem, detail = {}, (resp.text.strip().splitlines() or [resp.reason_phrase])[0]
    return ClientError(resp.status_code, str(detail), problem)
