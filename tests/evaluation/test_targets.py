"""Targets: configuration checks, credentials by reference, prices, the generic HTTP JSON target and offline
outputs, and `test_target` (what `charter eval target test` prints) against a real local server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from charter.evaluation.datasets import Sample
from charter.evaluation.runner import ItemResult, RunSettings, run_evaluation, test_target
from charter.evaluation.targets import (
    ChatTarget,
    HttpTarget,
    OfflineTarget,
    PriceTable,
    TargetError,
    parse_target,
    resolve_secret,
)
from tests.evaluation.chat_server import ChatServer, Fault

KEY = "custom-endpoint-key-7f3a9"


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer({"Where is my parcel?": "In Lyon."}, api_key=KEY) as s:
        yield s


def http_target(server: ChatServer, **overrides: Any) -> HttpTarget:
    fields: dict[str, Any] = {
        "kind": "http_json",
        "url": f"{server.url}/custom",
        "auth": "env:CUSTOM_KEY",
        "body_template": (
            '{"question": {{ prompt | tojson }}, "lang": {{ metadata.lang | tojson }}, "n": {{ parameters.n }}}'
        ),
        "output_path": "result.text",
        "input_tokens_path": "result.usage.input",
        "output_tokens_path": "result.usage.output",
        "parameters": {"n": 3},
        "model": "custom-v1",
    }
    target = parse_target({**fields, **overrides})
    assert isinstance(target, HttpTarget)
    return target


def run(target: Any, samples: list[Sample], **kwargs: Any) -> list[ItemResult]:
    results: list[ItemResult] = []
    settings = RunSettings(concurrency=2, timeout_s=2, max_attempts=2, backoff_base_s=0.01)
    kwargs.setdefault("environ", {"CUSTOM_KEY": KEY})
    asyncio.run(run_evaluation(target, samples, results.append, settings=settings, rng=random.Random(1), **kwargs))
    return sorted(results, key=lambda r: r.sample_id)


# ----------------------------------------------------------------------------- configuration


def test_a_pasted_key_is_refused_and_never_echoed() -> None:
    with pytest.raises(TargetError) as caught:
        parse_target(
            {"kind": "openai_chat", "base_url": "https://api.example.com/v1", "model": "m", "api_key": "sk-abc123"}
        )
    assert "api_key: credentials are stored by reference only: 'env:NAME' or 'file:/absolute/path'" in str(caught.value)
    assert "sk-abc123" not in str(caught.value)


def test_bad_configurations_name_the_field_and_what_is_allowed() -> None:
    base = {"kind": "openai_chat", "base_url": "https://api.example.com/v1", "model": "m"}
    cases = [
        ({"base_url": "ftp://x"}, "base_url: must be an http:// or https:// URL"),
        ({"parameters": {"temperature": 3}}, "parameters.temperature: Input should be less than or equal to 2"),
        ({"parameters": {"extra_body": {"model": "x"}}}, "extra_body may not set model"),
        ({"headers": {"Authorization": "Bearer x"}}, "header 'Authorization' carries a credential"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"kind": "grpc"}, "Input tag 'grpc' found using 'kind' does not match any of the expected tags"),
    ]
    for override, message in cases:
        with pytest.raises(TargetError, match="invalid target: ") as caught:
            parse_target({**base, **override})
        assert message in str(caught.value)


def test_template_and_path_mistakes_are_caught_when_the_target_is_configured(server: ChatServer) -> None:
    with pytest.raises(TargetError, match="template syntax error on line 2"):
        http_target(server, body_template='{\n"q": {{ prompt }\n}')
    with pytest.raises(TargetError, match="output_path: must be a dotted path"):
        http_target(server, output_path="result..text")


def test_secrets_resolve_from_the_environment_or_a_file_at_call_time(tmp_path: Path) -> None:
    assert resolve_secret("env:MY_KEY", {"MY_KEY": " abc \n"}) == "abc"
    with pytest.raises(TargetError, match="environment variable MY_KEY is not set or empty"):
        resolve_secret("env:MY_KEY", {})
    secret_file = tmp_path / "key.txt"
    secret_file.write_text("from-a-file\n")
    assert resolve_secret(f"file:{secret_file}") == "from-a-file"
    with pytest.raises(TargetError, match=r"cannot read .*missing\.txt \(No such file or directory\)"):
        resolve_secret(f"file:{tmp_path / 'missing.txt'}")
    secret_file.write_text("  \n")
    with pytest.raises(TargetError, match="is empty"):
        resolve_secret(f"file:{secret_file}")


def test_cost_follows_the_price_table_exactly() -> None:
    table = PriceTable.model_validate(
        {"prices": {"gpt-4o-mini": {"input_per_million": "0.15", "output_per_million": "0.60"}}}
    )
    assert table.cost("gpt-4o-mini", 1200, 350) == Decimal("0.00039")
    assert table.cost("unknown-model", 1200, 350) is None
    assert table.cost("gpt-4o-mini", None, 350) is None


# ----------------------------------------------------------------------------- the generic HTTP JSON target


def test_the_http_target_renders_its_template_and_reads_the_answer_path(server: ChatServer) -> None:
    prices = PriceTable.model_validate({"prices": {"custom-v1": {"input_per_million": 1, "output_per_million": 1}}})
    sample = Sample(id="p1", input="Where is my parcel?", metadata={"lang": 'fr "FR"'}, reference="secret expert note")
    (result,) = run(http_target(server), [sample], prices=prices)
    assert (result.status, result.output, result.tokens_in, result.tokens_out) == ("completed", "In Lyon.", 4, 2)
    assert result.cost == Decimal("0.000006")
    (request,) = server.requests
    assert request.body == {"question": "Where is my parcel?", "lang": 'fr "FR"', "n": 3}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert "secret expert note" not in str(request.body)  # the reference answer is never sent to the system


def test_a_custom_auth_header_without_scheme(server: ChatServer) -> None:
    server.api_key = None
    target = http_target(server, auth_header="X-Api-Token", auth_scheme="")
    run(target, [Sample(id="a", input="hi", metadata={"lang": "en"})])
    assert server.requests[0].headers["x-api-token"] == KEY


def test_template_and_answer_problems_mark_the_item_errored(server: ChatServer) -> None:
    strict = http_target(server)
    results = run(strict, [Sample(id="no-lang", input="hi")])
    assert results[0].status == "errored"
    assert results[0].error == "body template failed for sample no-lang: 'dict object' has no attribute 'lang'"
    not_json = http_target(server, body_template="question={{ prompt }}")
    assert run(not_json, [Sample(id="a", input="hi")])[0].error.startswith(  # type: ignore[union-attr]
        "body template rendered invalid JSON for sample a"
    )
    wrong_path = http_target(server, body_template='{"question": {{ prompt | tojson }}}', output_path="data[0].text")
    result = run(wrong_path, [Sample(id="b", input="hi")])[0]
    assert result.error == "unreadable answer: the response has no 'data' at the top level (found keys result)"
    assert len(server.requests) == 1  # only the last one reached the server, and was not retried


def test_the_http_target_retries_like_the_chat_target(server: ChatServer) -> None:
    server.fail(None, Fault.rate_limited(retry_after="0"))
    (result,) = run(http_target(server), [Sample(id="a", input="Where is my parcel?", metadata={"lang": "en"})])
    assert (result.status, result.attempts, result.output) == ("completed", 2, "In Lyon.")


# ----------------------------------------------------------------------------- offline outputs


def test_offline_outputs_are_recorded_and_missing_ones_errored() -> None:
    target = parse_target({"kind": "offline", "outputs": {"a": "answer a"}})
    results = run(target, [Sample(id="a", input="x"), Sample(id="b", input="y")])
    assert [(r.status, r.output, r.error) for r in results] == [
        ("completed", "answer a", None),
        ("errored", None, "no uploaded output for sample b"),
    ]


# ----------------------------------------------------------------------------- charter eval target test


def test_target_check_reports_reachable_or_why_not(server: ChatServer) -> None:
    chat = ChatTarget(base_url=server.base_url, model="m", api_key="env:CUSTOM_KEY")
    ok = asyncio.run(test_target(chat, environ={"CUSTOM_KEY": KEY}))
    assert ok.reachable and ok.detail.startswith("answered in ") and "echo: Reply with the single word OK." in ok.detail

    wrong = asyncio.run(test_target(chat, environ={"CUSTOM_KEY": "nope"}))
    assert (wrong.reachable, wrong.detail) == (False, "HTTP 401: Incorrect API key provided.")

    unset = asyncio.run(test_target(chat, environ={}))
    assert unset.detail == "credential env:CUSTOM_KEY: environment variable CUSTOM_KEY is not set or empty"

    server.fail(None, Fault.malformed())
    garbage = asyncio.run(test_target(chat, environ={"CUSTOM_KEY": KEY}))
    assert not garbage.reachable and garbage.detail.startswith("unreadable answer: the response is not JSON")

    server.fail(None, Fault.hang(5))
    slow = asyncio.run(test_target(chat, environ={"CUSTOM_KEY": KEY}, timeout_s=0.2))
    assert (slow.reachable, slow.detail) == (False, "timed out after 0.2 s")

    offline = asyncio.run(test_target(OfflineTarget(outputs={"a": "x"})))
    assert offline.reachable and offline.detail == "offline target: 1 uploaded outputs, nothing to call"


def test_an_unreachable_target_says_so() -> None:
    with ChatServer() as gone:
        url = gone.base_url
    check = asyncio.run(test_target(ChatTarget(base_url=url, model="m"), timeout_s=2))
    assert not check.reachable and check.detail.startswith("connection failed: ConnectError")
