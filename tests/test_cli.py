"""The `charter` command: local admin commands, one-line errors, start-up time, and the README tour
against a real server (`charter serve` in a subprocess on a free port, temporary SQLite database)."""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from charter.cli.main import app

runner = CliRunner()
PASSWORD = "engineer password 1"
CHARTER_VARS = ("CHARTER_URL", "CHARTER_TOKEN", "CHARTER_ENV", "CHARTER_SECRET_KEY", "CHARTER_ADMIN_PASSWORD")


def charter(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
    """Run `charter ARGS` in-process; check the exit code; errors must be one line without a traceback."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output
    if code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return result


def env_for(monkeypatch: pytest.MonkeyPatch, data: Path, config: Path) -> None:
    for var in CHARTER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CHARTER_DATA_DIR", str(data))
    monkeypatch.setenv("CHARTER_DATABASE_URL", f"sqlite:///{data}/charter.db")
    monkeypatch.setenv("CHARTER_CONFIG_DIR", str(config))


@pytest.fixture
def local_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated temporary SQLite database that `charter user/token ...` works on."""
    env_for(monkeypatch, tmp_path / "data", tmp_path / "config")
    assert "database at revision" in charter("db", "upgrade").stdout
    return tmp_path


# ----------------------------------------------------------------------------- local admin commands


def test_user_create_list_disable(local_db) -> None:  # type: ignore[no-untyped-def]
    out = charter("user", "create", "ada", "--role", "engineer", "--password", PASSWORD, "--display-name", "Ada L")
    assert "ada" in out.stdout and "engineer" in out.stdout
    charter("user", "create", "grace", "--role", "governance", "--password", PASSWORD)
    users = json.loads(charter("user", "list", "--json").stdout)
    assert [(u["username"], u["role"], u["disabled"]) for u in users] == [
        ("ada", "engineer", False),
        ("grace", "governance", False),
    ]
    assert "password" not in json.dumps(users)
    assert charter("user", "disable", "ada").stdout.strip() == "user 'ada' disabled"
    assert json.loads(charter("user", "list", "--json").stdout)[0]["disabled"] is True
    assert charter("user", "disable", "ada", "--enable").stdout.strip() == "user 'ada' enabled"
    table = charter("user", "list").stdout
    assert "username" in table and "grace" in table


def test_user_create_reads_the_password_from_the_environment(local_db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CHARTER_NEW_USER_PASSWORD", PASSWORD)
    charter("user", "create", "ada", "--role", "viewer")
    assert json.loads(charter("user", "list", "--json").stdout)[0]["role"] == "viewer"


def test_token_create_list_revoke(local_db) -> None:  # type: ignore[no-untyped-def]
    charter("user", "create", "ci-bot", "--role", "engineer", "--password", PASSWORD)
    out = charter("token", "create", "deploy-gate", "--user", "ci-bot", "--scope", "gate:check", "--scope",
                  "deploy:verify", "--expires-in-days", "90")  # fmt: skip
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "token 1 'deploy-gate' for ci-bot (scopes: gate:check, deploy:verify)"
    assert lines[1] == "store it now, it will not be shown again:"
    secret = lines[2]
    assert re.fullmatch(r"chr_[A-Za-z0-9_-]{43}", secret)
    issued = json.loads(charter("token", "create", "laptop", "--user", "ci-bot", "--json").stdout)
    assert issued["token"].startswith("chr_") and issued["scopes"] is None
    listing = charter("token", "list", "--json").stdout
    assert secret not in listing and issued["token"] not in listing
    tokens = json.loads(listing)
    assert [(t["id"], t["name"], t["username"], t["scopes"]) for t in tokens] == [
        (1, "deploy-gate", "ci-bot", ["deploy:verify", "gate:check"]),
        (2, "laptop", "ci-bot", None),
    ]
    assert tokens[0]["expires_at"] is not None and tokens[0]["prefix"] == secret[:10]
    assert secret not in charter("token", "list").stdout
    assert charter("token", "revoke", "1", "--reason", "rotated").stdout.strip() == "token 1 revoked"
    assert json.loads(charter("token", "list", "--json").stdout)[0]["revoked_at"] is not None
    err = charter("token", "revoke", "1", code=1).stderr
    assert err.startswith("error: token 1 was already revoked at ")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("user", "disable", "ghost"), 1, "error: no user named 'ghost'"),
        (("user", "create", "ada", "--role", "root", "--password", PASSWORD), 2, "error: role: Input should be"),
        (("user", "create", "ada", "--role", "viewer", "--password", "short"), 2, "at least 12 characters"),
        (("user", "create", "--role", "viewer"), 2, "error: Missing argument 'username'."),
        (("user", "frobnicate"), 2, "error: No such command 'frobnicate'."),
        (("token", "create", "x", "--user", "ghost"), 1, "error: no user named 'ghost'"),
        (("token", "create", "x", "--user", "viewer1", "--scope", "systems:nuke"), 2, "unknown scope systems:nuke"),
        (("token", "create", "x", "--user", "viewer1", "--scope", "systems:write"), 2, "does not have systems:write"),
        (("token", "revoke", "42"), 1, "error: no token with id 42"),
        (("token", "revoke", "not-a-number"), 2, "error: Invalid value for 'token_id'"),
    ],
)
def test_errors_are_one_line_with_exit_code_1_or_2(local_db, args, code, says) -> None:  # type: ignore[no-untyped-def]
    charter("user", "create", "viewer1", "--role", "viewer", "--password", PASSWORD)
    err = charter(*args, code=code).stderr
    assert says in err, err


def test_the_last_admin_cannot_be_disabled_from_the_cli(local_db) -> None:  # type: ignore[no-untyped-def]
    charter("user", "create", "root", "--role", "admin", "--password", PASSWORD)
    err = charter("user", "disable", "root", code=1).stderr
    assert "'root' is the last enabled admin; make another user admin first" in err
    charter("user", "create", "second", "--role", "admin", "--password", PASSWORD)
    charter("user", "disable", "root")


def test_admin_commands_on_an_unmigrated_database_say_what_to_do(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env_for(monkeypatch, tmp_path / "data", tmp_path / "config")
    err = charter("user", "list", code=1).stderr
    assert err.strip() == "error: the database is not migrated; run 'charter db upgrade' first"


def test_an_unreachable_database_is_one_line(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env_for(monkeypatch, tmp_path / "data", tmp_path / "config")
    monkeypatch.setenv("CHARTER_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    err = charter("user", "list", code=1).stderr
    assert err.startswith("error: database error: ") and "CHARTER_DATABASE_URL" in err


def test_prod_without_a_secret_key_refuses_to_start(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env_for(monkeypatch, tmp_path / "data", tmp_path / "config")
    monkeypatch.setenv("CHARTER_ENV", "prod")
    err = charter("serve", code=1).stderr
    assert err.startswith("error: configuration: CHARTER_SECRET_KEY must be set when CHARTER_ENV=prod")
    monkeypatch.setenv("CHARTER_SECRET_KEY", "too-short")
    assert "CHARTER_SECRET_KEY must be at least 32 characters" in charter("serve", code=1).stderr
    assert not (tmp_path / "data" / "charter.db").exists()  # refused before touching the database


def test_a_bad_setting_names_its_variable(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    env_for(monkeypatch, tmp_path / "data", tmp_path / "config")
    monkeypatch.setenv("CHARTER_DATABASE_URL", "mysql://x")
    err = charter("user", "list", code=1).stderr
    assert err.strip() == "error: CHARTER_DATABASE_URL: must be a sqlite:/// or postgresql+psycopg:// URL"


def test_the_client_turns_any_error_answer_into_one_readable_line() -> None:
    from charter.client import Client, ClientError

    answers = {
        "/problem": httpx.Response(409, json={"title": "Conflict", "detail": "it moved"}),
        "/html": httpx.Response(502, text="Bad gateway\n<html>...</html>"),
        "/list": httpx.Response(500, json=["not", "a", "problem"]),
    }
    transport = httpx.MockTransport(lambda request: answers[request.url.path])
    with Client("http://charter.test", token="chr_x", transport=transport) as c:
        for path, (status, detail) in {
            "/problem": (409, "it moved"),
            "/html": (502, "Bad gateway"),
            "/list": (500, '["not","a","problem"]'),
        }.items():
            with pytest.raises(ClientError) as err:
                c.get(path)
            assert (err.value.status, err.value.detail) == (status, detail)


# ----------------------------------------------------------------------------- start-up time


def test_help_starts_fast_and_imports_nothing_heavy() -> None:
    """`charter --help` well under half a second: no SQLAlchemy, FastAPI, httpx or pydantic at import."""
    probe = (
        "import sys, charter.cli.main; "
        "heavy = ('sqlalchemy', 'fastapi', 'httpx', 'pydantic', 'charter.http.app'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "", f"imported at CLI start-up: {heavy}"
    # CPU time of the child, not wall time: the test machine is shared, and waiting for a core is not start-up.
    timings = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-m", "charter.cli.main", "--help"], capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        timings.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        assert done.returncode == 0 and "system" in done.stdout
    assert min(timings) < 0.5, f"charter --help took {min(timings):.2f} s of CPU"


@pytest.mark.parametrize(("args", "code"), [(("audit", "verify"), 141), (("--help",), 1)])
def test_output_into_a_closed_pipe_exits_quietly_like_head_expects(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    """`charter ... | head`: when the reader has gone, no 'error: Broken pipe', no traceback. Commands exit 141
    (128 + SIGPIPE, as a shell reports it); Click's own output (--help) exits 1, also quietly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env.update(CHARTER_DATA_DIR=str(tmp_path), CHARTER_DATABASE_URL=f"sqlite:///{tmp_path}/charter.db")
    command = [sys.executable, "-m", "charter.cli.main"]
    subprocess.run([*command, "db", "upgrade"], env=env, capture_output=True, check=True)
    proc = subprocess.Popen([*command, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before the first line, as `head` does after its lines
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == code, stderr
    assert stderr == ""


# ----------------------------------------------------------------------------- against a real server


@dataclass
class Server:
    url: str
    data: Path
    output: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`charter serve` on an empty temporary SQLite database, as a new user would start it."""
    data = tmp_path_factory.mktemp("served") / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env.update(
        CHARTER_DATA_DIR=str(data),
        CHARTER_DATABASE_URL=f"sqlite:///{data}/charter.db",
        CHARTER_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "charter.cli.main", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    srv = Server(url=f"http://127.0.0.1:{port}", data=data)
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: srv.output.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 120  # a first start migrates and installs content; slow on a busy machine
        while True:
            try:
                if httpx.get(f"{srv.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "charter serve exited:\n" + "".join(srv.output)
            assert time.monotonic() < deadline, "charter serve did not become ready:\n" + "".join(srv.output)
            time.sleep(0.1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def against(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Server:
    """CLI environment pointing at the server and its database (local admin commands use the same one)."""
    env_for(monkeypatch, server.data, tmp_path / "config")
    monkeypatch.setenv("CHARTER_URL", server.url)
    return server


def test_first_serve_prints_the_generated_admin_password_once(against: Server) -> None:
    from charter.bootstrap import prepare
    from charter.kit.settings import Settings

    lines = [line for line in against.output if "first administrator" in line]
    assert len(lines) == 1, against.output
    m = re.search(r"username 'admin', password (\S+) — shown once", lines[0])
    assert m, lines[0]
    r = httpx.post(f"{against.url}/api/v1/auth/login", json={"username": "admin", "password": m.group(1)})
    assert r.status_code == 201 and r.json()["kind"] == "personal"
    engine, notes = prepare(Settings())  # a second start on the same database
    engine.dispose()
    assert not any("first administrator" in n for n in notes)


def test_the_readme_tour(against: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Start server → create an engineer and a token → register a system → move it to sandbox → see it in the
    audit log."""
    charter("user", "create", "ada", "--role", "engineer", "--password", PASSWORD)
    token = json.loads(charter("token", "create", "laptop", "--user", "ada", "--json").stdout)
    monkeypatch.setenv("CHARTER_TOKEN", token["token"])

    out = charter("system", "register", "support-bot", "--name", "Support bot", "--type", "vendor_api",
                  "--vendor", "Acme LLM", "--data", "personal", "--tag", "genai")  # fmt: skip
    assert "support-bot" in out.stdout and "proposed" in out.stdout
    out = charter("system", "move", "support-bot", "sandbox", "--reason", "first trial")
    assert out.stdout.strip() == "support-bot is now in stage 'sandbox' (version 2)"

    entries = json.loads(charter("audit", "log", "--json").stdout)
    moves = [e for e in entries if e["action"] == "system.stage.sandbox"]
    assert len(moves) == 1
    move = moves[0]
    assert move["entity_id"] == "support-bot" and move["reason"] == "first trial"
    assert move["actor"] == f"token:{token['id']}:laptop@ada"
    assert (move["before"]["stage"], move["after"]["stage"]) == ("proposed", "sandbox")
    table = charter("audit", "log", "--type", "system", "--id", "support-bot").stdout
    assert "system.stage.sandbox" in table and "system.registered" in table


def test_system_commands_over_the_api(against: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    charter("user", "create", "ed", "--role", "engineer", "--password", PASSWORD)
    token = json.loads(charter("token", "create", "cli", "--user", "ed", "--json").stdout)["token"]
    monkeypatch.setenv("CHARTER_TOKEN", token)
    charter("system", "register", "fraud-model", "--name", "Fraud model", "--type", "in_house_model", "--tag", "ml",
            "--problem", "chargebacks are found too late")  # fmt: skip
    shown = json.loads(charter("system", "show", "fraud-model", "--json").stdout)
    assert shown["owner"] == "ed" and shown["problem_statement"] == "chargebacks are found too late"
    assert "problem_statement: chargebacks are found too late" in charter("system", "show", "fraud-model").stdout
    updated = json.loads(
        charter("system", "update", "fraud-model", "--description", "scores card payments", "--json").stdout
    )
    assert updated["version"] == 2 and updated["description"] == "scores card payments"
    listed = json.loads(charter("system", "list", "--tag", "ml", "--json").stdout)
    assert [s["key"] for s in listed] == ["fraud-model"]
    assert json.loads(charter("system", "list", "--stage", "retired", "--json").stdout) == []

    err = charter("system", "move", "fraud-model", "production", code=1).stderr
    assert "cannot move from 'proposed' to 'production'. Allowed from 'proposed': retired, sandbox. [409]" in err
    err = charter("system", "update", "fraud-model", "--tier", "high", "--tier-reason", "credit", code=1).stderr
    assert "needs 'systems:classify'" in err and "[403]" in err
    err = charter("system", "update", "fraud-model", "--name", "x", "--version", "1", code=1).stderr
    assert "you sent version 1, the current version is 2" in err
    err = charter("system", "register", "x", "--name", "X", "--type", "carrier-pigeon", code=2).stderr
    assert "[422]" in err
    assert "no AI system with key 'ghost' [404]" in charter("system", "show", "ghost", code=1).stderr


def test_login_saves_a_personal_token_the_other_commands_use(against: Server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    charter("user", "create", "vera", "--role", "viewer", "--password", PASSWORD)
    out = charter("login", "--username", "vera", "--password", PASSWORD)
    assert out.stdout.startswith(f"logged in to {against.url} as vera; token saved to ")
    saved = json.loads((Path(os.environ["CHARTER_CONFIG_DIR"]) / "credentials.json").read_text())
    assert saved["username"] == "vera" and saved["token"].startswith("chr_")
    assert oct((Path(os.environ["CHARTER_CONFIG_DIR"]) / "credentials.json").stat().st_mode & 0o777) == "0o600"
    monkeypatch.delenv("CHARTER_URL")  # the saved URL is used
    charter("system", "list")
    err = charter("system", "register", "v-bot", "--name", "V", "--type", "embedded", code=1).stderr
    assert "role 'viewer' may not register and edit AI systems" in err
    charter("logout")
    monkeypatch.setenv("CHARTER_URL", against.url)
    assert "send 'Authorization: Bearer <token>'" in charter("system", "list", code=1).stderr
    err = charter("login", "--username", "vera", "--password", "wrong password", code=1).stderr
    assert "unknown user, wrong password, or the user is disabled [401]" in err


def test_bad_tokens_and_unreachable_servers_are_one_line(against: Server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CHARTER_TOKEN", "chr_not-a-real-token")
    assert charter("system", "list", code=1).stderr.strip() == "error: the token is not valid [401]"
    monkeypatch.setenv("CHARTER_URL", f"http://127.0.0.1:{_free_port()}")
    assert "error: cannot reach Charter at http://127.0.0.1:" in charter("system", "list", code=1).stderr
