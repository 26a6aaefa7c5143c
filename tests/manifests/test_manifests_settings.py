"""``reconciler.yaml`` and the environment → Settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests import load_settings

CERT = "0123456789abcdef0123456789abcdef"


def write(tmp_path: Path, text: str, name: str = "reconciler.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors(
    tmp_path: Path, environ: Mapping[str, str] | None = None, config: Path | None = None
) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, config, environ or {})
    assert caught.value.what == "settings"
    return [str(problem) for problem in caught.value.problems]


def test_no_settings_file_means_the_sandbox_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, None, {})
    assert settings.engine == "sandbox"
    assert settings.config_path is None
    assert settings.project_dir == tmp_path
    assert settings.customer_id is not None and settings.customer_secret is not None
    assert settings.customer_id.get_secret_value() == "sandbox"
    assert settings.customer_secret.get_secret_value() == "sandbox"


def test_a_full_settings_file_with_interpolation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "engine: us\n"
        "app_id: ${AGORA_APP_ID}\n"
        "auth: token\n"
        "app_certificate: ${AGORA_APP_CERTIFICATE}\n"
        "state: state/agents.json\n"
        "max_concurrent_agents: ${MAX_AGENTS:-50}\n"
        "parallelism: 4\n",
    )
    environ = {"AGORA_APP_ID": "a" * 32, "AGORA_APP_CERTIFICATE": CERT}
    settings = load_settings(tmp_path, None, environ)
    assert (settings.engine, settings.app_id, settings.auth) == ("us", "a" * 32, "token")
    assert settings.app_certificate is not None
    assert settings.app_certificate.get_secret_value() == CERT
    assert (settings.max_concurrent_agents, settings.parallelism) == (50, 4)
    assert settings.config_path == path
    assert settings.customer_id is None  # not the sandbox: no default credentials


def test_customer_credentials_come_from_the_environment(tmp_path: Path) -> None:
    environ = {"AGORA_CUSTOMER_ID": "id", "AGORA_CUSTOMER_SECRET": "s3cr3t-value"}
    settings = load_settings(tmp_path, None, environ)
    assert settings.customer_id is not None and settings.customer_secret is not None
    assert settings.customer_id.get_secret_value() == "id"
    assert settings.customer_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)


def test_reconciler_engine_overrides_the_file(tmp_path: Path) -> None:
    write(tmp_path, "engine: sandbox\n")
    assert load_settings(tmp_path, None, {"RECONCILER_ENGINE": "eu"}).engine == "eu"
    assert load_settings(tmp_path, None, {"RECONCILER_ENGINE": ""}).engine == "sandbox"
    override = {"RECONCILER_ENGINE": "http://127.0.0.1:8787"}
    assert load_settings(tmp_path, None, override).engine == "http://127.0.0.1:8787"


def test_a_bad_reconciler_engine_is_named(tmp_path: Path) -> None:
    assert errors(tmp_path, {"RECONCILER_ENGINE": "mars"}) == [
        "RECONCILER_ENGINE: engine must be sandbox, a region (us, eu, ap, cn) or an https:// URL"
    ]


def test_an_unknown_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path, "engine: sandbox\nparalelism: 4\n")
    assert errors(tmp_path) == [
        "reconciler.yaml:2: unknown key 'paralelism' in settings, did you mean 'parallelism'?"
    ]


def test_every_settings_problem_is_reported_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "engine: http://engine.example\n"
        "app_id: ${AGORA_APP_ID}\n"
        "app_certificate: too-short\n"
        "parallelism: many\n"
        "max_concurrent_agents: 0\n"
        "customer_secret: hunter2\n"
        "auth: oauth\n",
    )
    assert errors(tmp_path) == [
        "reconciler.yaml:1: engine: plain http:// is allowed only on the loopback interface"
        " (127.0.0.0/8, localhost, [::1]); use https://",
        "reconciler.yaml:2: environment variable 'AGORA_APP_ID' is not set (in app_id)",
        "reconciler.yaml:3: app_certificate must be 32 characters",
        "reconciler.yaml:4: parallelism: expected an integer",
        "reconciler.yaml:5: max_concurrent_agents: must be >= 1",
        "reconciler.yaml:6: customer_secret cannot be set in the settings file;"
        " set AGORA_CUSTOMER_SECRET",
        "reconciler.yaml:7: auth: input should be 'basic' or 'token'",
    ]


@pytest.mark.parametrize(
    "engine",
    ["sandbox", "us", "eu", "ap", "cn", "https://engine.example/api", "http://localhost:8787"],
)
def test_engines_accepted(tmp_path: Path, engine: str) -> None:
    write(tmp_path, f"engine: {engine}\n")
    assert load_settings(tmp_path, None, {}).engine == engine


@pytest.mark.parametrize("engine", ["mars", "ftp://x", "https://", "US"])
def test_engines_refused(tmp_path: Path, engine: str) -> None:
    write(tmp_path, f"engine: {engine}\n")
    assert errors(tmp_path) == [
        "reconciler.yaml:1: engine must be sandbox, a region (us, eu, ap, cn) or an https:// URL"
    ]


def test_auth_token_needs_a_certificate(tmp_path: Path) -> None:
    write(tmp_path, "auth: token\napp_certificate: ${AGORA_APP_CERTIFICATE:-}\n")
    assert errors(tmp_path) == ["reconciler.yaml:1: auth: token needs app_certificate"]


def test_an_empty_certificate_means_none(tmp_path: Path) -> None:
    write(tmp_path, "app_certificate: ${AGORA_APP_CERTIFICATE:-}\n")
    assert load_settings(tmp_path, None, {}).app_certificate is None


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    assert errors(tmp_path, config=Path("elsewhere/settings.yaml")) == [
        "elsewhere/settings.yaml: settings file not found"
    ]


def test_an_explicit_config_file_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, "parallelism: 3\n", name="ci.yaml")
    settings = load_settings(tmp_path, path, {})
    assert (settings.parallelism, settings.config_path) == (3, path)


def test_a_settings_file_must_be_one_mapping(tmp_path: Path) -> None:
    write(tmp_path, "- engine\n")
    assert errors(tmp_path) == ["reconciler.yaml:1: the settings file must hold one mapping"]


def test_a_missing_project_directory_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert errors(missing) == [f"{missing}: project directory not found"]


def test_settings_messages_never_show_secret_values(tmp_path: Path) -> None:
    write(tmp_path, "app_certificate: ${CERT}\nengine: ${ENGINE}\nparallelism: ${CERT}\n")
    text = "\n".join(errors(tmp_path, {"CERT": "SUPERSECRETVALUE", "ENGINE": "ftp://x"}))
    assert "SUPERSECRETVALUE" not in text
    assert len(text.splitlines()) == 3


def test_renewal_window_as_long_as_the_token_lifetime_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "token_ttl_s: 600\ntoken_renewal_window_s: 600\n")
    assert errors(tmp_path) == [
        "reconciler.yaml:2: token_renewal_window_s (600) must be shorter than token_ttl_s "
        "(600), or every plan would renew every token"
    ]


@pytest.mark.parametrize(
    ("engine", "label"),
    [
        ("sandbox", "sandbox (local emulator)"),
        ("eu", "eu"),
        ("https://api.example.com/api/x", "https://api.example.com/api/x"),
        ("https://user:pw@api.example.com/x", "https://api.example.com/x"),
    ],
)
def test_the_engine_label_a_plan_shows_never_carries_credentials(engine: str, label: str) -> None:
    from reconciler.models import Settings

    assert Settings(project_dir=Path("."), engine=engine).engine_label == label


def test_max_unavailable_defaults_to_a_quarter_and_takes_a_count_or_percentage(
    tmp_path: Path,
) -> None:
    assert load_settings(tmp_path, None, {}).max_unavailable == "25%"
    write(tmp_path, "max_unavailable: 3\n")
    assert load_settings(tmp_path, None, {}).max_unavailable == 3
    write(tmp_path, "max_unavailable: ${ROLL}\n")
    assert load_settings(tmp_path, None, {"ROLL": "2"}).max_unavailable == 2
    assert load_settings(tmp_path, None, {"ROLL": "40%"}).max_unavailable == "40%"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be at least 1"),
        ('"0%"', "must be a percentage between 1% and 100%"),
        ("half", 'must be a count (3) or a percentage of the managed agents ("25%")'),
        ("true", 'must be a count (3) or a percentage of the managed agents ("25%")'),
    ],
)
def test_a_bad_max_unavailable_is_located_and_explained(
    tmp_path: Path, value: str, message: str
) -> None:
    write(tmp_path, f"engine: sandbox\nmax_unavailable: {value}\n")
    assert errors(tmp_path) == [f"reconciler.yaml:2: max_unavailable: {message}"]


def test_rotate_before_cap_is_its_own_window_shorter_than_the_runtime_cap(tmp_path: Path) -> None:
    assert load_settings(tmp_path, None, {}).rotate_before_cap_s == 7200
    write(tmp_path, "rotate_before_cap_s: 3600\ntoken_renewal_window_s: 600\n")
    settings = load_settings(tmp_path, None, {})
    assert (settings.rotate_before_cap_s, settings.token_renewal_window_s) == (3600, 600)
    write(tmp_path, "rotate_before_cap_s: 259200\n")
    assert errors(tmp_path) == ["reconciler.yaml:1: rotate_before_cap_s: must be < 259200"]


def test_the_platform_defaults_to_the_sandbox_and_is_set_in_the_file(tmp_path: Path) -> None:
    assert load_settings(tmp_path, None, {}).platform == "sandbox"
    write(tmp_path, "platform: preview\n")
    assert load_settings(tmp_path, None, {}).platform == "preview"


def test_reconciler_platform_overrides_the_file_with_a_served_sandbox(tmp_path: Path) -> None:
    write(tmp_path, "platform: preview\n")
    served = {"RECONCILER_PLATFORM": "http://127.0.0.1:8787"}
    assert load_settings(tmp_path, None, served).platform == "http://127.0.0.1:8787"
    assert load_settings(tmp_path, None, {"RECONCILER_PLATFORM": ""}).platform == "preview"


def test_a_bad_platform_is_named_where_it_was_set(tmp_path: Path) -> None:
    assert errors(tmp_path, {"RECONCILER_PLATFORM": "http://10.0.0.5:8787"}) == [
        "RECONCILER_PLATFORM: platform: plain http:// is allowed only on the loopback interface "
        "(127.0.0.0/8, localhost, [::1]); use https://"
    ]
    write(tmp_path, "platform: mars\n")
    assert errors(tmp_path) == [
        "reconciler.yaml:1: platform must be sandbox, preview or an https:// URL"
    ]


def test_a_real_platform_never_gets_the_sandbox_credentials(tmp_path: Path) -> None:
    write(tmp_path, "platform: preview\n")
    settings = load_settings(tmp_path, None, {})
    assert settings.customer_id is None and settings.customer_secret is None
    given = {"AGORA_CUSTOMER_ID": "cid", "AGORA_CUSTOMER_SECRET": "secret"}
    settings = load_settings(tmp_path, None, given)
    assert settings.customer_id is not None and settings.customer_id.get_secret_value() == "cid"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('state: ""', "state: must name a file or a postgresql:// URL, not be empty"),
        ('state: "   "', "state: must name a file or a postgresql:// URL, not be empty"),
        ("state: state/", "state: names a directory; name a file in it"),
        ("state: .", "state: names a directory; name a file in it"),
        ('agents_dir: ""', "agents_dir: must name a directory, not be empty"),
        ('agents_dir: "  "', "agents_dir: must name a directory, not be empty"),
        ('sandbox_db: ""', "sandbox_db: must name a file, not be empty"),
        ("sandbox_db: .sandbox/", "sandbox_db: names a directory; name a file in it"),
        ('state_key: "  "', "state_key: must not be blank"),
        ("parallelism: true", "parallelism: expected an integer"),
        ("max_concurrent_agents: yes", "max_concurrent_agents: expected an integer"),
    ],
)
def test_blank_paths_directories_and_booleans_are_located_settings_problems(
    tmp_path: Path, line: str, message: str
) -> None:
    """An empty ``state:`` read the project directory as the state file, a blank one wrote a
    file named by spaces, ``agents_dir: ""`` read reconciler.yaml as a manifest, an empty
    ``sandbox_db`` crashed, ``parallelism: true`` was taken as 1."""
    text = line + "\n"
    if line.startswith("state_key"):
        text += "state: postgresql://postgres@127.0.0.1/db\n"
    write(tmp_path, text)
    assert errors(tmp_path) == [f"reconciler.yaml:1: {message}"]


def test_a_null_state_in_an_environment_is_no_state_of_its_own(tmp_path: Path) -> None:
    write(tmp_path, "environments:\n  staging:\n    state: null\n  prod:\n    state: b.json\n")
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, None, {}, "prod")
    assert [str(p) for p in caught.value.problems] == [
        "reconciler.yaml:2: environments.staging needs a state of its own: set state (a file "
        "or a postgresql:// URL) or state_key"
    ]
