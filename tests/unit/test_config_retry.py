"""The retry settings: environment and TOML file into one validated policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from callhook.config import ConfigError, load
from callhook.core.retry import DEFAULT_LIFETIMES, DEFAULT_SCHEDULE


def test_defaults_are_the_documented_policy() -> None:
    cfg = load({}, {})
    policy = cfg.retry_policy
    assert policy.schedule == DEFAULT_SCHEDULE == (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800)
    assert policy.client_error_attempts == 3
    assert (
        dict(policy.lifetimes)
        == dict(DEFAULT_LIFETIMES)
        == {
            "call.new": 900.0,
            "call.ringing": 300.0,
            "queue.offered": 300.0,
        }
    )


def test_environment() -> None:
    cfg = load(
        {},
        {
            "CALLHOOK_RETRY_SCHEDULE": "5, 60,600",
            "CALLHOOK_RETRY_CLIENT_ERROR_ATTEMPTS": "1",
            "CALLHOOK_RETRY_LIFETIMES": "call.ringing=60,call.new=0,call.record=86400",
        },
    )
    p = cfg.retry_policy
    assert p.schedule == (5.0, 60.0, 600.0)
    assert p.client_error_attempts == 1
    # merged over the defaults; 0 removes call.new's lifetime
    assert dict(p.lifetimes) == {"call.ringing": 60.0, "queue.offered": 300.0, "call.record": 86400.0}


def test_toml_file_and_the_environment_winning(tmp_path: Path) -> None:
    path = tmp_path / "callhook.toml"
    path.write_text(
        'retry_schedule = [1, 2.5]\nretry_client_error_attempts = 4\n[retry_lifetimes]\n"queue.offered" = 30\n',
        encoding="utf-8",
    )
    cfg = load({}, {}, str(path))
    assert cfg.retry_schedule == (1.0, 2.5)
    assert cfg.retry_client_error_attempts == 4
    assert cfg.retry_lifetimes["queue.offered"] == 30.0
    assert cfg.retry_lifetimes["call.ringing"] == 300.0
    env = load({}, {"CALLHOOK_RETRY_SCHEDULE": "7"}, str(path))
    assert env.retry_schedule == (7.0,)
    assert env.retry_client_error_attempts == 4
    assert load({}, {"CALLHOOK_RETRY_SCHEDULE": " , "}).retry_schedule == ()  # no retries at all


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CALLHOOK_RETRY_SCHEDULE": "10,soon"}, "CALLHOOK_RETRY_SCHEDULE: expected a number of seconds, got 'soon'"),
        ({"CALLHOOK_RETRY_SCHEDULE": "10,-5"}, "CALLHOOK_RETRY_SCHEDULE: each delay must be between 0"),
        ({"CALLHOOK_RETRY_SCHEDULE": ",".join(["1"] * 51)}, "CALLHOOK_RETRY_SCHEDULE: at most 50"),
        ({"CALLHOOK_RETRY_CLIENT_ERROR_ATTEMPTS": "0"}, "retry_client_error_attempts: attempts for other 4xx"),
        ({"CALLHOOK_RETRY_CLIENT_ERROR_ATTEMPTS": "many"}, "CALLHOOK_RETRY_CLIENT_ERROR_ATTEMPTS: expected an integer"),
        ({"CALLHOOK_RETRY_LIFETIMES": "call.ringing"}, "CALLHOOK_RETRY_LIFETIMES: expected event.type=seconds"),
        ({"CALLHOOK_RETRY_LIFETIMES": "call.exploded=5"}, "CALLHOOK_RETRY_LIFETIMES: unknown event type"),
        ({"CALLHOOK_RETRY_LIFETIMES": "call.ringing=-1"}, "CALLHOOK_RETRY_LIFETIMES: lifetime of call.ringing"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load({}, env)
    assert str(err.value).startswith(message), str(err.value)


def test_bad_toml_types_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('retry_schedule = "ten"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="retry_schedule: expected a number of seconds, got 'ten'"):
        load({}, {}, str(path))
    path.write_text("retry_lifetimes = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="retry_lifetimes: expected a table"):
        load({}, {}, str(path))
