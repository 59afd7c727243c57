import json
import threading
from pathlib import Path

from skillgate.observe.audit import AuditEvent, AuditLog, canonical_digest, redact


def event(n: int) -> AuditEvent:
    return AuditEvent(
        time="2026-11-23T10:00:00.000Z",
        profile="default",
        client={"name": "t", "version": "1"},
        method="call_skill",
        skill="s",
        tool="t",
        arguments_sha256=canonical_digest({"n": n}),
        outcome="ok",
        duration_ms=1.0,
    )


def test_concurrent_writers_never_interleave_and_rotation_loses_nothing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=20_000, backups=1000)
    threads = [
        threading.Thread(target=lambda k=k: [log.record(event(k * 500 + i)) for i in range(500)])
        for k in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    files = sorted(tmp_path.glob("audit.jsonl*"))
    assert len(files) > 10  # it rotated many times
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert len(lines) == 4000
    digests = {json.loads(line)["arguments_sha256"] for line in lines}
    assert digests == {canonical_digest({"n": n}) for n in range(4000)}
    assert all(f.stat().st_size <= 20_000 for f in files)


def test_rotation_keeps_the_configured_number_of_backups(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl", max_bytes=1024, backups=2)
    for n in range(100):
        log.record(event(n))
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "a.jsonl.1", "a.jsonl.2"]


def test_digest_is_canonical_and_secret_keys_are_redacted() -> None:
    assert canonical_digest({"b": 1, "a": [1, "é"]}) == canonical_digest({"a": [1, "é"], "b": 1})
    raw = {
        "query": "x",
        "api_key": "k",
        "nested": [{"Password": "p", "ok": 1}],
        "headers": {"Authorization": "t"},
    }
    assert redact(raw) == {
        "query": "x",
        "api_key": "***",
        "nested": [{"Password": "***", "ok": 1}],
        "headers": {"Authorization": "***"},
    }


def test_a_string_utf8_cannot_carry_is_recorded_printable_never_lost(tmp_path: Path) -> None:
    """A client name or query holding a lone surrogate (a 2026 envelope is plain JSON) still makes
    its audit line, with "?" in its place; the next line is written as usual."""
    log = AuditLog(tmp_path / "audit.jsonl")
    odd = AuditEvent(
        time="t",
        profile="default",
        client={"name": "agent\ud800", "version": None},
        method="list_skills",
        query="time \udfff",
        arguments_sha256=canonical_digest({"query": "time \udfff"}),
        outcome="ok",
        duration_ms=1.0,
    )
    log.record(odd)
    log.record(odd.model_copy(update={"client": {"name": "agent", "version": None}, "query": None}))
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [line["client"]["name"] for line in lines] == ["agent?", "agent"]
    assert lines[0]["query"] == "time ?" and log.written == 2
