"""Focused unit tests: token records, mismatch errors, compare-and-set commits, sinks and the XCom guard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_kontent.handoff import (
    MANIFEST_NAME,
    HandoffTooLargeError,
    NdjsonSink,
    XComSink,
    iter_ndjson,
)
from airflow_provider_kontent.tokens import (
    TokenConflictError,
    TokenMismatchError,
    TokenNotFoundError,
    TokenRecord,
    TokenStore,
    kontent_sync_asset,
)

ENV = "0f5b6e9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"


class MemoryStore(TokenStore):
    """The abstract store over a dict (the persistence layer, not the logic under test)."""

    kind = "memory"

    def __init__(self, value: Any = None) -> None:
        self.value = value
        self.writes = 0

    @property
    def location(self) -> str:
        return "memory"

    def _read(self) -> Any:
        return self.value

    def _write(self, value: dict[str, Any]) -> None:
        self.value = json.loads(json.dumps(value))
        self.writes += 1


def _record(**overrides: Any) -> TokenRecord:
    values = {"environment_id": ENV, "mode": "public", "api_version": 2, "filters": None}
    values.update(overrides)
    return TokenRecord.new("tok-1", **values)


def test_record_round_trip_and_advance():
    record = _record(filters={"system.type[in]": ["article", "blog"]})
    data = record.to_dict()
    assert set(data) == {
        "format",
        "token",
        "environment_id",
        "mode",
        "api_version",
        "filters",
        "created_at",
        "advanced_at",
        "snapshot_pending",
    }
    assert data["snapshot_pending"] is False
    assert data["filters"] == {"system.type[in]": "article,blog"}
    assert TokenRecord.from_dict(json.loads(json.dumps(data))) == record
    advanced = record.advanced("tok-2")
    assert advanced.token == "tok-2" and advanced.created_at == record.created_at
    assert advanced.advanced_at >= record.advanced_at


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"environment_id": "11111111-1111-1111-1111-111111111111"}, "environment"),
        ({"mode": "preview"}, "mode"),
        ({"api_version": 1}, "v2"),
    ],
)
def test_mismatch_is_a_clear_error(change, needle):
    record = _record()
    wanted = {"environment_id": ENV, "mode": "public", "api_version": 2, "filters": None, **change}
    with pytest.raises(TokenMismatchError, match=needle) as err:
        record.check_compatible(**wanted)
    assert "reinitialize=True" in str(err.value)


def test_filters_v1_error_v2_warning():
    v1 = _record(api_version=1, filters={"system.type": "article"})
    with pytest.raises(TokenMismatchError, match="v1 filters"):
        v1.check_compatible(environment_id=ENV, mode="public", api_version=1, filters={"system.type": "blog"})
    v2 = _record(filters={"system.type": "article"})
    warning = v2.check_compatible(environment_id=ENV, mode="public", api_version=2, filters=None)
    assert warning and "take effect from now on" in warning
    assert (
        v2.check_compatible(
            environment_id=ENV, mode="public", api_version=2, filters={"system.type": "article"}
        )
        is None
    )


@pytest.mark.parametrize("value", ["bare-token", ["x"], {"token": "t", "mode": "public", "api_version": 2}])
def test_malformed_stored_values(value):
    with pytest.raises(TokenMismatchError):
        TokenRecord.from_dict(value, source="Variable 'k'")


def test_commit_is_compare_and_set():
    store = MemoryStore(_record().to_dict())
    assert store.commit(store.load().advanced("tok-2"), expected_token="tok-1") is True
    assert store.load().token == "tok-2"
    # a retried commit of the same token is a no-op, not an error
    assert store.commit(store.load().advanced("tok-2"), expected_token="tok-1") is False
    assert store.writes == 1
    # a pull that started from tok-1 cannot commit after someone moved the token to tok-2
    with pytest.raises(TokenConflictError, match="refusing to commit"):
        store.commit(store.load().advanced("tok-3"), expected_token="tok-1")
    assert store.load().token == "tok-2"
    with pytest.raises(TokenNotFoundError):
        MemoryStore().require()


def test_snapshot_pending_round_trips_and_old_records_read_as_false():
    pending = _record(snapshot_pending=True)
    data = json.loads(json.dumps(pending.to_dict()))
    assert data["snapshot_pending"] is True
    assert TokenRecord.from_dict(data) == pending
    assert "not yet confirmed" in pending.describe() and "not yet confirmed" not in _record().describe()
    # a record stored before the field existed
    old = {key: value for key, value in data.items() if key != "snapshot_pending"}
    assert TokenRecord.from_dict(old).snapshot_pending is False
    # only a real JSON true counts
    assert TokenRecord.from_dict({**data, "snapshot_pending": "false"}).snapshot_pending is False
    # not part of the compatibility check
    assert pending.check_compatible(environment_id=ENV, mode="public", api_version=2, filters=None) is None
    # advancing (what every commit does) confirms the snapshot
    assert pending.advanced("tok-2").snapshot_pending is False


def test_commit_clears_snapshot_pending():
    store = MemoryStore(_record(snapshot_pending=True).to_dict())
    assert store.commit(store.load().advanced("tok-2"), expected_token="tok-1") is True
    assert store.load().token == "tok-2" and store.load().snapshot_pending is False
    # a retried commit still writes nothing
    assert store.commit(store.load().advanced("tok-2"), expected_token="tok-1") is False
    assert store.writes == 1


def test_commit_of_an_unchanged_token_still_confirms_the_snapshot():
    # a drain that found nothing may end on the token it started from
    store = MemoryStore(_record(snapshot_pending=True).to_dict())
    assert store.commit(store.load().advanced("tok-1"), expected_token="tok-1") is True
    assert store.load().token == "tok-1" and store.load().snapshot_pending is False
    assert store.commit(store.load().advanced("tok-1"), expected_token="tok-1") is False
    assert store.writes == 1


def test_kontent_sync_asset_uri():
    asset = kontent_sync_asset(ENV)
    assert asset.uri == f"kontent://{ENV}/sync"
    assert kontent_sync_asset(ENV, "articles").uri == f"kontent://{ENV}/articles"


def _rec(codename: str, ts: str, change: str = "changed", lang: str = "en-US") -> dict[str, Any]:
    return {
        "kind": "item",
        "change_type": change,
        "timestamp": ts,
        "id": f"id-{codename}",
        "language": lang,
        "codename": codename,
        "payload": "x" * 50,
    }


def test_ndjson_sink_compacts_across_pages_and_writes_manifest(tmp_path):
    (tmp_path / "part-00007.ndjson").write_text("stale\n")  # left by an earlier failed attempt
    (tmp_path / MANIFEST_NAME).write_text("{}")
    (tmp_path / "keep.txt").write_text("not ours")
    sink = NdjsonSink(tmp_path, part_max_bytes=300)
    sink.prepare()
    assert not (tmp_path / MANIFEST_NAME).exists() and not (tmp_path / "part-00007.ndjson").exists()
    sink.write_page([_rec("a", "2026-01-01T00:00:01Z"), _rec("b", "2026-01-01T00:00:01Z")])
    sink.write_page([_rec("c", "2026-01-01T00:00:02Z"), _rec("a", "2026-01-01T00:00:05Z", "deleted")])
    sink.write_page([_rec("a", "2026-01-01T00:00:01Z", lang="de")])  # another variant: another key
    files = sink.finalize({"extra": 1})
    records = [r for f in files for r in iter_ndjson(type(tmp_path)(f))]
    assert sorted((r["codename"], r["language"], r["change_type"]) for r in records) == [
        ("a", "de", "changed"),
        ("a", "en-US", "deleted"),
        ("b", "en-US", "changed"),
        ("c", "en-US", "changed"),
    ]
    assert sink.superseded == 1 and sink.kept == 4
    assert sink.counts.to_dict() == {"items": {"changed": 3, "deleted": 1}}
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["records"] == 4 and manifest["extra"] == 1
    assert sum(f["records"] for f in manifest["files"]) == 4 and len(manifest["files"]) == len(files) > 1
    assert (tmp_path / "keep.txt").exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_xcom_sink_compacts_and_guards_size():
    sink = XComSink(10_000)
    sink.write_page([_rec("a", "2026-01-01T00:00:01Z")])
    sink.write_page([_rec("a", "2026-01-01T00:00:02Z", "deleted")])
    assert [r["change_type"] for r in sink.finalize()] == ["deleted"]
    small = XComSink(300)
    with pytest.raises(HandoffTooLargeError, match="output_path") as err:
        small.write_page([_rec(str(i), "2026-01-01T00:00:01Z") for i in range(10)])
    assert "max_xcom_bytes=300" in str(err.value) and "No token was committed" in str(err.value)


def test_sensor_deferrable_default_follows_operators_default_deferrable(monkeypatch):
    from airflow_provider_kontent.sensors.sync import KontentSyncSensor

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert KontentSyncSensor(task_id="on").deferrable is True
    assert KontentSyncSensor(task_id="forced_off", deferrable=False).deferrable is False
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    assert KontentSyncSensor(task_id="off").deferrable is False
    assert KontentSyncSensor(task_id="forced_on", deferrable=True).deferrable is True


def test_store_arguments_fail_at_parse_time():
    from airflow_provider_kontent.operators.sync_pull import KontentSyncPullOperator

    with pytest.raises(ValueError, match="token_store"):
        KontentSyncPullOperator(task_id="bad_store", token_store="redis")
    with pytest.raises(ValueError, match="asset="):
        KontentSyncPullOperator(task_id="no_asset", token_store="asset")
    asset = kontent_sync_asset(ENV)
    pull = KontentSyncPullOperator(task_id="ok", token_store="asset", asset=asset)
    assert asset in pull.outlets and asset not in pull.inlets
