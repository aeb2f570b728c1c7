import pytest

from pipeline.cli_common import load_settings


def test_option_overrides_invalid_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS", "nohost")
    monkeypatch.setenv("QIANLIYAN_KAFKA__TOPIC_PREFIX", "env.")

    settings = load_settings("127.0.0.1:9092")

    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.kafka.topic_prefix == "env."


def test_invalid_env_exits_with_two(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    monkeypatch.setenv("QIANLIYAN_KAFKA__BOOTSTRAP_SERVERS", "nohost")

    with pytest.raises(typer.Exit) as caught:
        load_settings()

    assert caught.value.exit_code == 2


def test_empty_model_path_means_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANLIYAN_DETECTION_MODEL_PATH", "")

    assert load_settings().detection_model_path is None
