"""``state:`` as a PostgreSQL URL in reconciler.yaml: interpolation, state_key, password, TLS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests import load_settings
from reconciler.models.settings import Settings
from reconciler.models.stateurl import split_postgres_url, tls_defaults

PASSWORD = "s3cret-P@ss:word/x"
QUOTED = "s3cret-P%40ss%3Aword%2Fx"


def settings_from(tmp_path: Path, text: str, **environ: str) -> Settings:
    (tmp_path / "reconciler.yaml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path, None, environ)


def test_state_url_is_interpolated_and_its_password_kept_apart(tmp_path: Path) -> None:
    url = f"postgresql://ci:{QUOTED}@db.internal:6432/infra?sslmode=require"
    settings = settings_from(tmp_path, "state: ${RECONCILER_STATE_URL}\n", RECONCILER_STATE_URL=url)
    assert settings.state_is_database
    assert settings.state == "postgresql://ci@db.internal:6432/infra?sslmode=require"
    assert settings.state_password is not None
    assert settings.state_password.get_secret_value() == PASSWORD
    assert settings.state_shown == "postgresql://ci:***@db.internal:6432/infra?sslmode=require"
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert PASSWORD not in text and QUOTED not in text


def test_a_password_query_parameter_is_kept_apart_too(tmp_path: Path) -> None:
    settings = Settings(
        project_dir=tmp_path, state=f"postgres://ci@127.0.0.1/db?password={QUOTED}&sslmode=disable"
    )
    assert settings.state == "postgres://ci@127.0.0.1/db?sslmode=disable"
    assert settings.state_password is not None
    assert settings.state_password.get_secret_value() == PASSWORD


def test_a_url_without_a_host_stays_a_database_url_once_its_password_is_split_off(
    tmp_path: Path,
) -> None:
    # Regression: "postgresql:///db?..." became "postgresql:/db?..." without its password: a
    # local file path, so apply wrote the state to p/postgresql:/db?host=... instead of the database
    settings = Settings(
        project_dir=tmp_path, state=f"postgresql:///infra?host=127.0.0.1&password={QUOTED}"
    )
    assert settings.state_is_database
    assert settings.state == "postgresql:///infra?host=127.0.0.1"
    assert settings.state_password is not None
    assert settings.state_password.get_secret_value() == PASSWORD
    assert settings.state_shown == "postgresql://:***@/infra?host=127.0.0.1"
    bare = Settings(project_dir=tmp_path, state="postgres:///infra")
    assert (bare.state_is_database, bare.state) == (True, "postgres:///infra")


def test_state_key_defaults_to_the_app_id(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "state: postgresql://127.0.0.1/db\napp_id: abc\n")
    assert settings.effective_state_key == "abc"
    keyed = settings_from(tmp_path, "state: postgresql://127.0.0.1/db\nstate_key: team-a\n")
    assert keyed.effective_state_key == "team-a"


def test_state_key_without_a_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"reconciler.yaml:2: state_key names a state"):
        settings_from(tmp_path, "app_id: x\nstate_key: team-a\n")


def test_a_local_state_path_is_unchanged(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "state: elsewhere/state.json\n")
    assert not settings.state_is_database
    assert settings.state_path == tmp_path / "elsewhere/state.json"
    assert settings.state_shown == str(tmp_path / "elsewhere/state.json")


def test_state_password_cannot_be_set_as_a_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"reconciler.yaml:1: .*state_password"):
        settings_from(tmp_path, "state_password: x\n")


def test_an_unparsable_url_is_located_and_shows_no_password(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as failed:
        settings_from(tmp_path, f"app_id: x\nstate: postgresql://u:{QUOTED}@[::1/db\n")
    message = str(failed.value)
    assert "reconciler.yaml:2: state: not a valid URL" in message
    assert QUOTED not in message


def test_a_password_that_should_have_been_percent_encoded_is_refused_not_leaked(
    tmp_path: Path,
) -> None:
    raw = f"postgresql://u:{PASSWORD}@db.example.com/db"
    with pytest.raises(ValidationError, match="must be percent-encoded") as failed:
        settings_from(tmp_path, "state: ${URL}\n", URL=raw)
    assert "ss:word" not in str(failed.value)
    direct = Settings(project_dir=tmp_path, state=raw)
    assert "ss:word" not in repr(direct) and "ss:word" not in direct.state_shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://db.example.com/x", {"sslmode": "verify-full", "sslrootcert": "system"}),
        (
            "postgresql://127.0.0.1,db.example.com/x",
            {"sslmode": "verify-full", "sslrootcert": "system"},
        ),
        ("postgresql://db.example.com/x?sslrootcert=/ca.pem", {"sslmode": "verify-full"}),
        ("postgresql://db.example.com/x?sslmode=disable", {}),
        ("postgresql://localhost:5433/x", {}),
        ("postgresql://[::1]/x", {}),
        ("postgresql://127.0.0.2/x", {}),
        ("postgresql://127.example.com/x", {"sslmode": "verify-full", "sslrootcert": "system"}),
        ("postgresql:///x", {}),
        ("postgresql:///x?host=/var/run/postgresql", {}),
        # the host as a query parameter (libpq's form for a URL without a host) counts too
        (
            "postgresql:///x?host=db.example.com",
            {"sslmode": "verify-full", "sslrootcert": "system"},
        ),
        (
            "postgresql:///x?host=127.0.0.1,db.example.com",
            {"sslmode": "verify-full", "sslrootcert": "system"},
        ),
        ("postgresql:///x?hostaddr=10.1.2.3", {"sslmode": "verify-full", "sslrootcert": "system"}),
        ("postgresql:///x?host=localhost&hostaddr=127.0.0.1", {}),
    ],
)
def test_a_remote_database_is_reached_over_verified_tls_unless_sslmode_says(
    url: str, expected: dict[str, str]
) -> None:
    assert tls_defaults(split_postgres_url(url), {}) == expected


def test_pghost_counts_when_the_url_names_no_host() -> None:
    assert tls_defaults(split_postgres_url("postgresql:///x"), {"PGHOST": "db.example.com"}) == {
        "sslmode": "verify-full",
        "sslrootcert": "system",
    }


def test_the_local_backend_never_imports_psycopg(tmp_path: Path) -> None:
    (tmp_path / "agents.d").mkdir()  # a project (an empty directory is refused)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from reconciler.cli import main\n"
        "from reconciler.project import Project\n"
        f"Project.open(Path({str(tmp_path)!r}), None, {{}}).store.load()\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_state_where_names_the_state_and_requires_a_database_when_asked(tmp_path: Path) -> None:
    from tests.reliability.inproc import run_cli

    (tmp_path / "reconciler.yaml").write_text("state: ${STATE}\n", encoding="utf-8")
    local = run_cli("-C", str(tmp_path), "state", "where", env={"STATE": "state/agents.json"})
    assert (local.code, local.stdout) == (0, f"{tmp_path / 'state' / 'agents.json'}\n")
    required = run_cli(
        "-C", str(tmp_path), "state", "where", "--require-database", env={"STATE": "s.json"}
    )
    assert required.code == 1
    assert "the state is a local file" in required.stderr and "lost when this job ends" in (
        required.stderr
    )
    url = f"postgresql://ci:{QUOTED}@db.internal/infra?sslpassword={QUOTED}&sslmode=require"
    database = run_cli(
        "-C", str(tmp_path), "state", "where", "--require-database", env={"STATE": url}
    )
    assert database.code == 0, str(database)
    assert database.stdout == (
        "postgresql://ci:***@db.internal/infra?sslmode=require&sslpassword=*** "
        "(state key 0123456789abcdef0123456789abcdef)\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        f"postgress://ci:{QUOTED}@db.internal/infra",
        f"mysql://ci:{QUOTED}@db.internal/infra",
        f"https://ci:{QUOTED}@db.internal/infra",
        # a database URL missing a slash is no file path either
        f"postgresql:/infra?host=db.internal&password={QUOTED}",
        f"Postgres:infra?password={QUOTED}",
    ],
)
def test_a_state_url_of_another_scheme_is_refused_not_taken_for_a_file(
    tmp_path: Path, url: str
) -> None:
    """A mistyped database URL would otherwise become a local path holding the password."""
    with pytest.raises(ValidationError) as caught:
        settings_from(tmp_path, "state: ${RECONCILER_STATE_URL}\n", RECONCILER_STATE_URL=url)
    message = str(caught.value)
    assert "reconciler.yaml:1: state:" in message
    assert "postgresql://" in message
    assert PASSWORD not in message and QUOTED not in message
    assert [path.name for path in tmp_path.iterdir()] == ["reconciler.yaml"]


@pytest.mark.parametrize("app_id", ["", "   ", "../other-app", "a b", "id?x=1", "x" * 65])
def test_an_app_id_that_cannot_be_one_is_a_settings_error_at_its_line(
    tmp_path: Path, app_id: str
) -> None:
    """The App ID goes into every engine path (`/projects/{app_id}/...`) and keys the state: an
    empty one ended in an internal error, one with a `/` reached another path of the engine."""
    with pytest.raises(ValidationError, match=r"reconciler.yaml:1: app_id: "):
        settings_from(tmp_path, "app_id: ${APP}\n", APP=app_id)


def test_an_app_id_of_letters_digits_dashes_and_underscores_is_accepted(tmp_path: Path) -> None:
    for app_id in ("0123456789abcdef0123456789abcdef", "x", "team_a-1"):
        assert settings_from(tmp_path, "app_id: ${APP}\n", APP=app_id).app_id == app_id


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://db.internal/infra?password={QUOTED}",
        f"postgresql:/infra?sslpassword={QUOTED}",
        f"postgresql://[::1/infra?password={QUOTED}",
    ],
)
def test_the_excerpt_of_a_refused_state_url_hides_its_secret_parameters(
    tmp_path: Path, url: str
) -> None:
    from tests.reliability.inproc import run_cli

    (tmp_path / "reconciler.yaml").write_text(f'state: "{url}"\n', encoding="utf-8")
    refused = run_cli("-C", str(tmp_path), "validate")
    assert refused.code != 0
    assert "reconciler.yaml:1: state:" in refused.stderr  # the problem, with its excerpt
    assert 'state: "' in refused.stderr
    output = refused.stdout + refused.stderr
    assert PASSWORD not in output and QUOTED not in output


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{QUOTED}@db.example.com:notaport/db",
        f"postgresql://u:{QUOTED}@db.example.com:70000/db",
        f"postgresql://u:{QUOTED}@db.example.com:0/db",
        f"postgresql://u:{QUOTED}@a.example.com:5432,b.example.com:x/db",
        f"postgresql://u:{QUOTED}@[::1]:abc/db",
        "postgresql://u@/db?port=abc",
    ],
)
def test_a_state_url_with_a_bad_port_is_located_not_left_to_the_connection(
    tmp_path: Path, url: str
) -> None:
    """A port that is no number from 1 to 65535 failed only at the connection, unlocated."""
    with pytest.raises(ValidationError) as failed:
        settings_from(tmp_path, f"app_id: x\nstate: {url}\n")
    message = str(failed.value)
    assert "reconciler.yaml:2: state: not a valid URL (a port must be a number" in message
    assert QUOTED not in message


def test_state_urls_with_good_ports_are_accepted(tmp_path: Path) -> None:
    for url in (
        "postgresql://u@db.example.com:5433/db",
        "postgresql://u@a.example.com:5432,b.example.com/db",
        "postgresql://u@[::1]:5432/db",
        "postgresql://u@/db?port=5432",
        "postgresql:///db",
    ):
        assert settings_from(tmp_path, f"app_id: x\nstate: {url}\n").state_is_database
