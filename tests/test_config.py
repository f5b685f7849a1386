"""Settings: flags over environment over defaults, and the secret key."""

from __future__ import annotations

import pytest

from app.config import Settings, SettingsError, ensure_secret_key, load_settings


def test_defaults_are_the_embedded_sqlite_on_localhost(tmp_path):
    settings = load_settings([], {"DATA_DIR": str(tmp_path)})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.database_url == f"sqlite:///{tmp_path / 'app.db'}"
    assert settings.sqlite_path == tmp_path / "app.db"
    assert settings.debug is False


def test_the_environment_sets_defaults_and_flags_override_it():
    env = {
        "PORT": "9001",
        "DATABASE_URL": "sqlite:////tmp/x.db",
        "DEBUG": "true",
        "SECRET_KEY": "k",
    }
    settings = load_settings([], env)
    assert (settings.port, settings.database_url, settings.debug, settings.secret_key) == (
        9001,
        "sqlite:////tmp/x.db",
        True,
        "k",
    )
    # A platform that sets PORT expects every interface.
    assert settings.host == "0.0.0.0"
    flagged = load_settings(["--port=9002", "--host=127.0.0.2", "--debug=false"], env)
    assert (flagged.port, flagged.host, flagged.debug) == (9002, "127.0.0.2", False)


def test_words_after_the_flags_are_the_command():
    assert load_settings(["--port=1", "migrate"], {}).command == ("migrate",)


def test_a_secret_key_is_generated_once_and_kept_for_sqlite(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", data_dir=tmp_path)
    first = ensure_secret_key(settings)
    second = ensure_secret_key(settings)
    assert len(first.secret_key) >= 40
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_shared_database_without_secret_key_refuses_to_start(tmp_path):
    settings = Settings(database_url="postgresql://db/app", data_dir=tmp_path)
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        ensure_secret_key(settings)


def test_several_processes_joined_by_redis_need_a_secret_key_too(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}",
        data_dir=tmp_path,
        redis_url="redis://127.0.0.1:1/0",
    )
    with pytest.raises(SettingsError, match="REDIS_URL"):
        ensure_secret_key(settings)


def test_presence_timings_come_from_the_environment_or_flags():
    defaults = load_settings([], {})
    assert (defaults.presence_ttl, defaults.presence_renew) == (30.0, 10.0)
    assert defaults.presence_notice_interval == 0.25
    env = {"PRESENCE_TTL": "6", "PRESENCE_NOTICE_INTERVAL": "0.5"}
    settings = load_settings([], env)
    assert (settings.presence_ttl, settings.presence_renew) == (6.0, 2.0)
    assert settings.presence_notice_interval == 0.5
    assert load_settings(["--presence_ttl=9"], env).presence_ttl == 9.0


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_presence_ttl_that_is_not_a_positive_number_is_refused(value):
    with pytest.raises(SettingsError, match="PRESENCE_TTL must be a positive number"):
        load_settings([], {"PRESENCE_TTL": value})


def test_http_timeouts_come_from_the_environment_or_flags():
    defaults = load_settings([], {})
    assert (defaults.http_idle_timeout, defaults.http_body_timeout) == (100.0, 60.0)
    settings = load_settings([], {"HTTP_IDLE_TIMEOUT": "5", "HTTP_BODY_TIMEOUT": "7.5"})
    assert (settings.http_idle_timeout, settings.http_body_timeout) == (5.0, 7.5)
    flagged = load_settings(["--http_idle_timeout=9", "--http_body_timeout=3"], {})
    assert (flagged.http_idle_timeout, flagged.http_body_timeout) == (9.0, 3.0)


@pytest.mark.parametrize("name", ["HTTP_IDLE_TIMEOUT", "HTTP_BODY_TIMEOUT"])
@pytest.mark.parametrize("value", ["0", "-5", "never", "inf"])
def test_an_http_timeout_that_is_not_a_positive_number_is_refused(name, value):
    with pytest.raises(SettingsError, match=f"{name} must be a positive number"):
        load_settings([], {name: value})


def test_the_request_key_window_is_a_day_unless_set():
    assert load_settings([], {}).request_key_window == 86400.0
    settings = load_settings([], {"REQUEST_KEY_WINDOW": "3600"})
    assert settings.request_key_window == 3600.0
    flagged = load_settings(["--request_key_window=90.5"], {"REQUEST_KEY_WINDOW": "3600"})
    assert flagged.request_key_window == 90.5


@pytest.mark.parametrize("value", ["0", "-60", "a day", "inf", "nan"])
def test_a_request_key_window_that_is_not_a_positive_number_is_refused(value):
    with pytest.raises(SettingsError, match="REQUEST_KEY_WINDOW must be a positive number"):
        load_settings([], {"REQUEST_KEY_WINDOW": value})


def test_sqlite_durability_is_normal_unless_full_is_asked_for():
    assert load_settings([], {}).sqlite_synchronous == "normal"
    assert load_settings([], {"SQLITE_SYNCHRONOUS": "FULL"}).sqlite_synchronous == "full"
    with pytest.raises(SettingsError, match=r"SQLITE_SYNCHRONOUS must be normal .* or full"):
        load_settings([], {"SQLITE_SYNCHRONOUS": "off"})


@pytest.mark.parametrize("name", ["PORT", "HISTORY_SIZE", "PRESENCE_MEMBERS"])
@pytest.mark.parametrize("value", ["", "eight", "8.5"])
def test_a_whole_number_setting_that_is_not_one_is_said_in_words(name, value):
    with pytest.raises(SettingsError, match=f"{name} must be a whole number; it is '{value}'"):
        load_settings([], {name: value})
