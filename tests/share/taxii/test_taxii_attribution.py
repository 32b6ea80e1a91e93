"""``BackgroundClusters`` under ``StoreSource``: attribution computed once, then refreshed on a background
thread while requests keep the previous result; the export is rebuilt only when the clusters change, and
an unchanged recomputation keeps every object id."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from honeyscope.share.stix.actors import AttributedCluster
from honeyscope.share.stix.synthetic import campaign_events
from honeyscope.share.taxii import BackgroundClusters, StoreSource

START = datetime(2021, 3, 3, tzinfo=UTC)


def _cluster(confidence: int) -> AttributedCluster:
    return AttributedCluster(cluster_id="c-0123456789abcdef0123", actor_id="hafnium", actor_name="HAFNIUM",
                             confidence=confidence, session_ids=["s-1"], source_ips=["203.0.113.7"],
                             first_seen=START, last_seen=START + timedelta(hours=1))


class _Judge:
    """Stands for ``attribute_store``: answers ``answers`` in turn (an exception is raised), counting calls."""

    def __init__(self, *answers: list[AttributedCluster] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, start: datetime | None) -> list[AttributedCluster]:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _settle(judge: _Judge, clusters: BackgroundClusters, calls: int) -> None:
    """Wait (at most 10 s) for the background recomputation number ``calls`` to land."""
    deadline = time.monotonic() + 10
    while judge.calls < calls or clusters._running:
        assert time.monotonic() < deadline, "the background attribution did not finish"
        time.sleep(0.01)


def test_refreshes_in_the_background_and_keeps_unchanged_results(caplog: pytest.LogCaptureFixture):
    clock = [0.0]
    judge = _Judge([_cluster(80)], [_cluster(80)], RuntimeError("broken intel"), [_cluster(40)])
    clusters = BackgroundClusters(judge, interval=900, monotonic=lambda: clock[0])
    first = clusters(START)
    assert [c.confidence for c in first] == [80] and judge.calls == 1
    assert clusters(START) is first and judge.calls == 1  # within the interval: no recomputation

    clock[0] = 901
    assert clusters(START) is first  # stale: answered at once, recomputed behind
    _settle(judge, clusters, 2)
    assert clusters(START) is first  # equal result: the same object, so exports built on it stay

    clock[0] = 1802
    with caplog.at_level("ERROR", logger="honeyscope.share.taxii"):
        clusters(START)
        _settle(judge, clusters, 3)
    assert clusters(START) is first and "TAXII attribution failed" in caplog.text

    clock[0] = 2703
    clusters(START)
    _settle(judge, clusters, 4)
    assert [c.confidence for c in clusters(START)] == [40]


def test_store_source_rebuilds_only_when_the_attribution_changes():
    clock = [0.0]
    judge = _Judge([_cluster(80)], [_cluster(80)], [_cluster(40)])
    clusters = BackgroundClusters(judge, interval=900, monotonic=lambda: clock[0])
    events = list(campaign_events(sources=4, days=1))
    source = StoreSource(lambda start, end: iter(events), clusters=clusters, window=None, ttl=3600,
                         monotonic=lambda: clock[0])
    assert "attribution" in source.info.description
    before = source.objects(source.info.id)
    assert before is not None
    [attributed] = [o.obj for o in before if o.obj.get("relationship_type") == "attributed-to"]
    assert attributed["confidence"] == 80 and any(o.obj["type"] == "intrusion-set" for o in before)

    clock[0] = 901
    source.objects(source.info.id)
    _settle(judge, clusters, 2)
    assert source.objects(source.info.id) is before  # same clusters: the cached export, same ids

    clock[0] = 1802
    source.objects(source.info.id)
    _settle(judge, clusters, 3)
    after = source.objects(source.info.id)
    assert after is not before and after is not None
    [changed] = [o.obj for o in after if o.obj.get("relationship_type") == "attributed-to"]
    assert changed["id"] == attributed["id"] and changed["confidence"] == 40
    assert {o.obj["id"] for o in after} == {o.obj["id"] for o in before}
