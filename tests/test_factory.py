"""The application factory honours test config and keeps secrets out of the code."""

from pathlib import Path

from microsite import create_app
from microsite.config import load_config


def test_factory_honours_test_config(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "from-test",
            "INSTANCE_PATH": str(tmp_path / "inst"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            "SEARCH_INDEX_DIR": str(tmp_path / "idx"),
        }
    )
    assert app.testing
    assert app.config["SECRET_KEY"] == "from-test"
    assert app.config["SEARCH_INDEX_DIR"] == str(tmp_path / "idx")
    assert not (tmp_path / "inst" / "secret_key").exists()


def test_default_factory_is_not_testing(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "SECRET_KEY": "k"})
    assert not app.testing


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    second = load_config(tmp_path)["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "env-key")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("MICROSITE_SEARCH_INDEX_DIR", "/srv/index")
    config = load_config(Path(tmp_path))
    assert config["SECRET_KEY"] == "env-key"
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///elsewhere.db"
    assert config["SEARCH_INDEX_DIR"] == "/srv/index"


def test_embedded_default_uses_instance_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("MICROSITE_SEARCH_INDEX_DIR", raising=False)
    config = load_config(tmp_path, with_secret=False)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'microsite.sqlite3'}"
    assert config["SEARCH_INDEX_DIR"].endswith("search_index")


def test_the_clock_is_each_apps_own_setting(tmp_path):
    """Time comes from the app's CLOCK setting, so moving one app's clock moves no other."""
    from datetime import UTC, datetime

    from microsite import text

    def config(name, **extra):
        return {
            "TESTING": True,
            "SECRET_KEY": "k",
            "INSTANCE_PATH": str(tmp_path / name),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}.db",
            **extra,
        }

    later = datetime(2031, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    moved = create_app(config("moved", CLOCK=lambda: later))
    plain = create_app(config("plain"))
    assert plain.config["CLOCK"] is text.system_clock
    with moved.app_context():
        assert text.utc_now() == later
        assert text.local_now() == datetime(2031, 1, 2, 11, 4, 5)  # Asia/Shanghai, to the second
    with plain.app_context():
        assert abs((text.utc_now() - datetime.now(UTC)).total_seconds()) < 60
