"""The store (migrations, types, settings) and the ``keys`` and ``runs import`` commands, on both
backends."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import auth, make_keys, make_settings
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from api.cli import app as cli
from api.cli import full_app
from api.models import ApiKey, Base, utcnow
from api.security import hash_key
from api.settings import Settings
from api.store import MIGRATIONS, Store


def test_migrations_match_the_models_and_go_down_and_up(store_url):
    store = Store(store_url)
    store.migrate()
    store.migrate()  # idempotent: every start-up runs it
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.migrate()
    assert {"api_keys", "datasets", "scenarios", "runs"} <= set(
        inspect(store.engine).get_table_names())
    store.dispose()


def test_times_come_back_aware_utc(store_url):
    store = Store(store_url)
    store.migrate()
    local = dt.datetime(2025, 7, 1, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    with store.session() as s:
        s.add(ApiKey(id="k1", name="", prefix="ap_x", key_hash="h" * 64, role="viewer",
                     province_code=None, created_at=local, revoked_at=None))
        s.commit()
    with store.session() as s:
        row = s.get(ApiKey, "k1")
        assert row.created_at == local and row.created_at.tzinfo == dt.UTC
        s.add(ApiKey(id="k2", name="", prefix="ap_y", key_hash="i" * 64, role="viewer",
                     province_code=None, created_at=dt.datetime(2025, 7, 1), revoked_at=None))
        with pytest.raises(Exception, match="naive datetime"):
            s.commit()
    store.dispose()


def test_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSETPLAN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSETPLAN_RUN_WORKERS", "3")
    s = Settings()
    assert s.run_workers == 3
    assert s.store_url() == f"sqlite:///{(tmp_path / 'assetplan.sqlite').resolve()}"
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/x")
    assert Settings().store_url() == "postgresql+psycopg://u:p@db:5432/x"
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@db/x")
    assert Settings().store_url() == "postgresql+psycopg://u:p@db/x"
    monkeypatch.setenv("ASSETPLAN_RUN_WORKERS", "-1")
    with pytest.raises(ValueError, match="run_workers"):
        Settings()


def test_keys_commands(store_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", store_url)
    monkeypatch.setenv("ASSETPLAN_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "--role", "planner", "--province", "68",
                               "--name", "Lâm Đồng"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[0]
    assert secret.startswith("ap_") and len(secret) > 40
    store = Store(store_url)
    with store.session() as s:
        row = s.scalars(select(ApiKey)).one()
    assert row.key_hash == hash_key(secret) and row.province_code == "68"
    assert secret not in str([getattr(row, c.key) for c in ApiKey.__table__.columns])
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0 and row.id in listed.stdout and secret not in listed.stdout
    assert "planner\t68\tLâm Đồng" in listed.stdout
    assert runner.invoke(cli, ["keys", "revoke", row.id]).exit_code == 0
    with store.session() as s:
        assert s.get(ApiKey, row.id).revoked_at <= utcnow()
    assert runner.invoke(cli, ["keys", "revoke", "nope"]).exit_code == 1
    assert runner.invoke(cli, ["keys", "create", "--role", "admin", "--province",
                               "68"]).exit_code != 0
    assert runner.invoke(cli, ["keys", "create", "--role", "planner", "--province",
                               "99"]).exit_code != 0
    assert runner.invoke(cli, ["keys", "create", "--role", "root"]).exit_code != 0
    store.dispose()


def test_runs_import_registers_a_cli_run_the_api_lists(store_url, tmp_path, monkeypatch):
    from api.app import create_app

    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATABASE_URL", store_url)
    monkeypatch.setenv("ASSETPLAN_DATA_DIR", str(data_dir))
    runner = CliRunner()
    folder = tmp_path / "cao-bang"
    scen = Path(__file__).resolve().parents[1] / "scenarios" / "national-baseline.yaml"
    made = runner.invoke(full_app(), ["run", str(scen), "--province", "04", "--override",
                                      "quick", "--out", str(folder), "--no-maps"])
    assert made.exit_code == 0, made.output
    res = runner.invoke(cli, ["runs", "import", str(folder)])
    assert res.exit_code == 0, res.output
    run_id = res.stdout.strip().splitlines()[0]
    assert (data_dir / "runs" / run_id / "tables" / "kpis.parquet").is_file()
    assert (data_dir / "runs" / run_id / "plan.xlsx").is_file()
    again = runner.invoke(cli, ["runs", "import", str(folder)])  # the same run, not a second
    assert again.exit_code == 0 and again.stdout.strip().splitlines()[0] == run_id

    with TestClient(create_app(make_settings(store_url, data_dir))) as client:
        keys = make_keys(client.app.state.store)
        runs = client.get("/runs", headers=auth(keys["viewer"])).json()["items"]
        assert [(r["id"], r["status"], r["scenario_name"], r["provinces"], r["overrides"],
                 r["dataset_id"], r["synthetic"]) for r in runs] == [
            (run_id, "succeeded", "national-baseline", ["04"], ["quick"], "demo", True)]
        assert runs[0]["lang"] == "en"  # the language the CLI run was written in
        kpis = client.get(f"/runs/{run_id}/kpis", headers=auth(keys["viewer"])).json()
        assert kpis["items"] and kpis["synthetic"] is True
        # A key scoped to another province (Lâm Đồng) does not see it.
        assert client.get(f"/runs/{run_id}", headers=auth(keys["viewer68"])).status_code == 404

    not_a_run = tmp_path / "not-a-run"
    shutil.copytree(folder / "tables", not_a_run / "tables")
    res = runner.invoke(cli, ["runs", "import", str(not_a_run)])
    assert res.exit_code == 1
    assert "not a run folder" in res.output and "provenance.json" in res.output
    (not_a_run / "provenance.json").write_text("{}", encoding="utf-8")
    res = runner.invoke(cli, ["runs", "import", str(not_a_run)])
    assert res.exit_code == 1 and "not the provenance of an assetplan run" in res.output
    assert sorted(p.name for p in (data_dir / "runs").iterdir()) == [run_id]


def test_register_mounts_serve_and_keys_on_a_cli():
    import typer

    from api.cli import register

    main = typer.Typer()

    @main.command()
    def summary() -> None:
        """Another command of the host CLI."""

    register(main)
    out = CliRunner().invoke(main, ["--help"])
    assert out.exit_code == 0
    assert {"serve", "keys", "summary"} <= set(out.stdout.split())
    serve_help = CliRunner().invoke(main, ["serve", "--help"]).stdout
    assert "--host" in serve_help and "--port" in serve_help


def test_the_full_cli_has_the_planner_and_the_api_commands():
    from api.cli import full_app

    app = full_app()
    assert full_app() is app  # registering twice adds nothing
    out = CliRunner().invoke(app, ["--help"])
    assert out.exit_code == 0
    names = set(out.stdout.split())
    assert {"serve", "keys", "summary", "validate"} <= names
    assert sum(c.name == "serve" for c in app.registered_commands) == 1


def test_migration_0002_merges_datasets_of_the_same_content(store_url):
    store = Store(store_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with store.session() as s:
        for i, (ident, content) in enumerate((("old", "h1"), ("new", "h1"), ("other", "h2"))):
            s.execute(text("INSERT INTO datasets (id, name, source, path, content_hash, "
                           "synthetic, tables, files, created_at, created_by) VALUES (:id, "
                           ":id, 'upload', NULL, :h, false, '{}', '[]', :t, NULL)"),
                      {"id": ident, "h": content, "t": (t0 + dt.timedelta(days=i))
                       .replace(tzinfo=None)})
        s.execute(text("INSERT INTO scenarios (id, name, description, spec, overrides, "
                       "resolved, dataset_id, provinces, province_code, created_at, "
                       "created_by) VALUES ('s1', 's1', '', '{}', '[]', '{}', 'new', '[]', "
                       "NULL, :t, NULL)"), {"t": t0.replace(tzinfo=None)})
        s.commit()
    store.migrate()
    with store.session() as s:
        assert s.execute(text("SELECT id FROM datasets ORDER BY id")).scalars().all() == \
            ["old", "other"]
        assert s.execute(text("SELECT dataset_id FROM scenarios")).scalar_one() == "old"
    store.dispose()
