"""How well ``trends`` and ``attribute`` recover a simulation's ground truth.

Attribution (``analysis.sessions`` → ``analysis.clusters`` → ``analysis.attribution``, as ``honeyscope
attribute`` runs them): every session's true actor is its source address's campaign's actor (noise,
scanners and campaigns without an actor: none). Per actor, precision and recall over sessions — a session
is attributed to the actor its cluster is attributed to. A cluster is *wrongly attributed* when it names an
actor other than the one most of its sessions belong to (none included), counted at moderate (STIX Med,
30-69) and high (70-100) confidence.

Trends (``analysis.trends``, country × CVE): a truth is *found* when a finding of the full run has its key,
the increase direction and an onset within ``tolerance`` days; its *delay* is the number of days after the
onset the data must reach before the analysis reports it (``trends.evaluation.detection``, which re-runs
the analysis on data ending 1, 2, … days after the onset). False alarms are findings per 1,000 country-days
on a noise-only simulation (by country), where every finding is false.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.analysis.trends import DailyTable, TrendReport, TrendSettings
from honeyscope.config import ConfigError, StoreSettings
from honeyscope.simulate.truth import GroundTruth, TrendTruth, read_truth
from honeyscope.store.base import EventStore


class ActorScore(msgspec.Struct, kw_only=True):
    """Attribution of one actor's sessions: how many were its, attributed to it, both."""

    actor: str
    true_sessions: int
    attributed_sessions: int
    correct_sessions: int
    #: None when nothing was attributed to the actor (precision) or nothing was its (recall).
    precision: float | None
    recall: float | None


class WrongCluster(msgspec.Struct, kw_only=True):
    """A cluster attributed to someone most of its sessions do not belong to."""

    cluster: str
    attributed_to: str
    confidence: int
    level: str
    #: The actor most of its sessions belong to (None: nobody in particular).
    truth: str | None
    sessions: int
    source_ips: list[str]


class AttributionScore(msgspec.Struct, kw_only=True):
    """Attribution against the ground truth: per actor, and the clusters attributed wrongly."""

    sessions: int
    clusters: int
    attributed_clusters: int
    actors: list[ActorScore]
    wrong_moderate: int
    wrong_high: int
    wrong: list[WrongCluster]


class TrendScore(msgspec.Struct, kw_only=True):
    """One designed increase: whether the full run reported it and how many days it took."""

    key: list[str]
    onset: str
    found: bool
    found_onset: str | None
    #: Days of data after the onset needed to report it (None: not reported within the data).
    delay: int | None
    elevated_daily: float
    #: The series holds enough events for the analysis to test it at all (``min_total_events``).
    testable: bool = True


class TrendsScore(msgspec.Struct, kw_only=True):
    """Trend truths found, and the detection delays."""

    truths: int
    #: Truths whose series the analysis tests (enough events), and how many of those were found.
    testable: int
    found: int
    #: Found ÷ testable truths (the thresholded figure), and found ÷ all truths.
    recall: float | None
    recall_all: float | None
    median_delay: float | None
    max_delay: int | None
    #: Increases reported that match no truth (in a full run some are real: a second wave, a campaign's end).
    other_findings: int
    series: list[TrendScore]


class NoiseScore(msgspec.Struct, kw_only=True):
    """Findings on a noise-only simulation: all false."""

    days: int
    countries: int
    country_days: int
    findings: int
    false_alarms_per_1000: float
    #: Also by country × CVE (reported only).
    pair_findings: int
    pair_series_days: int
    #: Clusters attributed to HAFNIUM, and attributed to anyone at high confidence.
    hafnium_attributions: int
    high_attributions: int


class Thresholds(msgspec.Struct, kw_only=True):
    """What a run must meet; defaults are issue 5's targets where it sets one (docs/simulate.md)."""

    max_wrong_high: int = 0
    max_wrong_moderate: int | None = None
    min_precision: float = 0.9
    min_recall: float = 0.5
    min_trend_recall: float = 0.8
    max_median_delay: float = 14.0
    max_false_alarms: float = 1.0


class Evaluation(msgspec.Struct, kw_only=True):
    """Everything ``honeyscope evaluate`` reports; ``violations`` names each threshold missed."""

    data: str
    seed: int
    start: str
    days: int
    events: int
    attribution: AttributionScore | None
    trends: TrendsScore | None
    noise: NoiseScore | None = None
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)
    violations: list[str] = msgspec.field(default_factory=list)


# -- attribution ---------------------------------------------------------------------------------------


def score_attribution(truth: GroundTruth, sessions: Sequence[Any], clusters: Sequence[Any],
                      report: Any) -> AttributionScore:
    """Sessions' true actors against the report's verdicts (``report.clusters`` keep ``clusters``' order)."""
    owners = {ip: campaign.actor for campaign in truth.campaigns for ip in campaign.source_ips}
    truth_of = {session.id: owners.get(session.source_ip) for session in sessions}
    verdict: dict[str, str | None] = {}
    wrong: list[WrongCluster] = []
    for cluster, result in zip(clusters, report.clusters, strict=True):
        for session in cluster.sessions:
            verdict[session] = result.actor
        if result.actor is None:
            continue
        majority = _majority([truth_of.get(s) for s in cluster.sessions])
        if result.actor != majority:
            wrong.append(WrongCluster(cluster=cluster.id, attributed_to=result.actor, confidence=result.confidence,
                                      level=result.level, truth=majority, sessions=len(cluster.sessions),
                                      source_ips=list(cluster.source_ips[:5])))
    actors = sorted({a for a in truth_of.values() if a} | {a for a in verdict.values() if a})
    scores = [_actor_score(actor, truth_of, verdict) for actor in actors]
    return AttributionScore(sessions=len(sessions), clusters=len(clusters),
                            attributed_clusters=sum(r.actor is not None for r in report.clusters), actors=scores,
                            wrong_moderate=sum(30 <= w.confidence < 70 for w in wrong),
                            wrong_high=sum(w.confidence >= 70 for w in wrong), wrong=wrong)


def _majority(actors: list[str | None]) -> str | None:
    counts = Counter(actors)
    top = max(counts.values())
    leaders = [actor for actor, count in counts.items() if count == top]
    return leaders[0] if len(leaders) == 1 else None


def _actor_score(actor: str, truth_of: dict[str, str | None], verdict: dict[str, str | None]) -> ActorScore:
    true = {s for s, a in truth_of.items() if a == actor}
    attributed = {s for s, a in verdict.items() if a == actor}
    correct = len(true & attributed)
    return ActorScore(actor=actor, true_sessions=len(true), attributed_sessions=len(attributed),
                      correct_sessions=correct,
                      precision=round(correct / len(attributed), 4) if attributed else None,
                      recall=round(correct / len(true), 4) if true else None)


def run_attribution(store: EventStore, data_dir: Path) -> tuple[list[Any], list[Any], Any]:
    """Sessions, clusters and the attribution report, as ``honeyscope attribute`` makes them."""
    from honeyscope.analysis.attribution import attribute
    from honeyscope.analysis.clusters import build_clusters
    from honeyscope.analysis.knowledge import load_knowledge
    from honeyscope.analysis.sessions import SessionBuilder
    from honeyscope.cli.sessions import stored_events

    builder = SessionBuilder()
    sessions = []
    for event in stored_events(store):
        sessions += builder.add(event)
    sessions += builder.finish()
    clusters = build_clusters(sessions)
    intel = data_dir / "intel"
    report = attribute(clusters, load_knowledge([intel] if intel.is_dir() else []))
    return sessions, clusters, report


# -- trends --------------------------------------------------------------------------------------------


def pair_table(store: EventStore) -> DailyTable:
    """Country × CVE per day (HTTP requests, ``EventStore.daily_pair_counts``) and active sensors per day."""
    from honeyscope.analysis.trends import load_table

    return load_table(store, ["country", "cve"])


def score_trends(truths: Sequence[TrendTruth], table: DailyTable, report: TrendReport, settings: TrendSettings,
                 *, tolerance: int = 3) -> TrendsScore:
    """Designed increases against the report's findings, and each one's detection delay."""
    from honeyscope.analysis.trends.evaluation import detection

    rows = {key: index for index, key in enumerate(table.keys)}
    days = {day: index for index, day in enumerate(table.days)}
    matched: set[int] = set()
    scores = []
    for truth in truths:
        key = tuple(truth.key)
        found = [(i, f) for i, f in enumerate(report.findings) if f.key == key and f.direction == "increase"
                 and abs((f.onset - truth.onset).days) <= tolerance]
        matched |= {i for i, _ in found}
        delay = None
        testable = key in rows and int(table.counts[rows[key]][table.observed].sum()) >= settings.min_total_events
        if testable and truth.onset in days:
            delay = detection(table, rows[key], days[truth.onset], settings=settings, family_size=report.tests,
                              tolerance=tolerance).delay
        scores.append(TrendScore(key=list(truth.key), onset=truth.onset.isoformat(), found=bool(found),
                                 found_onset=found[0][1].onset.isoformat() if found else None, delay=delay,
                                 elevated_daily=truth.elevated_daily, testable=testable))
    delays = [s.delay for s in scores if s.delay is not None]
    others = sum(1 for i, f in enumerate(report.findings) if f.direction == "increase" and i not in matched)
    found_count = sum(s.found for s in scores)
    testable_count = sum(s.testable for s in scores)
    found_testable = sum(s.found and s.testable for s in scores)
    return TrendsScore(truths=len(scores), testable=testable_count, found=found_count,
                       recall=round(found_testable / testable_count, 4) if testable_count else None,
                       recall_all=round(found_count / len(scores), 4) if scores else None,
                       median_delay=statistics.median(delays) if delays else None,
                       max_delay=max(delays) if delays else None, other_findings=others, series=scores)


# -- noise only ----------------------------------------------------------------------------------------


def score_noise(store: EventStore, data_dir: Path, days: int) -> NoiseScore:
    """False alarms of trends and attributions on a store holding noise only."""
    from honeyscope.analysis.trends import find_trends, load_table

    settings = TrendSettings()
    by_country = load_table(store, ["country"])
    countries = find_trends(by_country, settings)
    pairs = pair_table(store)
    pair_report = find_trends(pairs, settings)
    observed = int(by_country.observed.sum())
    _, _, report = run_attribution(store, data_dir)
    country_days = len(by_country.keys) * observed
    return NoiseScore(
        days=days, countries=len(by_country.keys), country_days=country_days, findings=len(countries.findings),
        false_alarms_per_1000=round(1000 * len(countries.findings) / country_days, 3) if country_days else 0.0,
        pair_findings=len(pair_report.findings), pair_series_days=len(pairs.keys) * observed,
        hafnium_attributions=sum(r.actor == "hafnium" for r in report.clusters),
        high_attributions=sum(r.actor is not None and (r.confidence or 0) >= 70 for r in report.clusters))


# -- thresholds ----------------------------------------------------------------------------------------


def violations(evaluation: Evaluation, truth: GroundTruth) -> list[str]:
    """Each threshold the evaluation misses, as a sentence."""
    limits = evaluation.thresholds
    found: list[str] = []
    attribution = evaluation.attribution
    if attribution is not None:
        if attribution.wrong_high > limits.max_wrong_high:
            found.append(f"{attribution.wrong_high} clusters wrongly attributed at high confidence "
                         f"(at most {limits.max_wrong_high})")
        if limits.max_wrong_moderate is not None and attribution.wrong_moderate > limits.max_wrong_moderate:
            found.append(f"{attribution.wrong_moderate} clusters wrongly attributed at moderate confidence "
                         f"(at most {limits.max_wrong_moderate})")
        expected = {campaign.actor for campaign in truth.campaigns if campaign.actor and campaign.visits}
        for score in attribution.actors:
            if score.precision is not None and score.precision < limits.min_precision:
                found.append(f"{score.actor}: precision {score.precision:.2f} (at least {limits.min_precision})")
            if score.actor in expected and (score.recall or 0.0) < limits.min_recall:
                found.append(f"{score.actor}: recall {score.recall or 0.0:.2f} (at least {limits.min_recall})")
    trends = evaluation.trends
    if trends is not None and trends.testable:
        if (trends.recall or 0.0) < limits.min_trend_recall:
            found.append(f"trends found {trends.recall or 0.0:.0%} of the {trends.testable} designed increases in "
                         f"series with enough events to test (at least {limits.min_trend_recall:.0%})")
        if trends.median_delay is None or trends.median_delay > limits.max_median_delay:
            found.append(f"median trend detection delay {trends.median_delay} days (at most "
                         f"{limits.max_median_delay:g})")
    noise = evaluation.noise
    if noise is not None:
        if noise.false_alarms_per_1000 > limits.max_false_alarms:
            found.append(f"{noise.false_alarms_per_1000:g} false alarms per 1,000 country-days on noise only "
                         f"(at most {limits.max_false_alarms:g})")
        if noise.hafnium_attributions:
            found.append(f"noise only: {noise.hafnium_attributions} clusters attributed to HAFNIUM (must be none)")
        if noise.high_attributions > limits.max_wrong_high:
            found.append(f"noise only: {noise.high_attributions} clusters attributed at high confidence")
    return found


# -- the whole evaluation ------------------------------------------------------------------------------


def evaluate(data_dir: Path, *, config: Path | None = None, thresholds: Thresholds | None = None,
             noise_check: bool = False, noise_days: int | None = None,
             progress: Callable[[str], None] | None = None) -> Evaluation:
    """Score the store in ``data_dir`` against its ground truth; with ``noise_check`` also simulate noise
    only (same scenario, next seed, ``noise_days`` days) in a temporary directory and count false alarms."""
    from honeyscope.analysis.trends import find_trends
    from honeyscope.simulate.run import node_settings_for

    data_dir = data_dir.resolve()
    truth = read_truth(data_dir)
    store = _open_existing(node_settings_for(data_dir, config).store)
    attribution = trends = noise = None
    try:
        if truth.noise_only:
            noise = score_noise(store, data_dir, truth.days)
        else:
            _say(progress, "attribution: sessions, clusters, actors")
            attribution = score_attribution(truth, *run_attribution(store, data_dir))
            if truth.trends:
                _say(progress, "trends: country × CVE")
                settings = TrendSettings()
                table = pair_table(store)
                trends = score_trends(truth.trends, table, find_trends(table, settings), settings)
    finally:
        store.close()
    if noise_check and not truth.noise_only:
        noise = noise_only_check(data_dir, truth, config, noise_days or min(truth.days, 120), progress)
    evaluation = Evaluation(data=str(data_dir), seed=truth.seed, start=truth.start.isoformat(), days=truth.days,
                            events=truth.events, attribution=attribution, trends=trends, noise=noise,
                            thresholds=thresholds or Thresholds())
    evaluation.violations = violations(evaluation, truth)
    return evaluation


def noise_only_check(data_dir: Path, truth: GroundTruth, config: Path | None, days: int,
                     progress: Callable[[str], None] | None = None) -> NoiseScore:
    """Simulate the run's scenario as noise only (``scenario.noise_only``) into a temporary DuckDB store,
    then score it."""
    from honeyscope.collector.wiring import open_store_for
    from honeyscope.simulate.run import node_settings_for, simulate
    from honeyscope.simulate.scenario import noise_only, parse_scenario, with_period

    path = data_dir / "simulation" / truth.scenario_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no scenario at {path} — re-run honeyscope simulate") from None
    scenario = noise_only(with_period(parse_scenario(text, str(path)), start=truth.start, days=days))
    with tempfile.TemporaryDirectory(prefix="honeyscope-noise-") as temporary:
        where = Path(temporary)
        settings = node_settings_for(where, config)
        settings = msgspec.structs.replace(settings, store=StoreSettings(path=str(where / "honeyscope.duckdb")))
        _say(progress, f"noise-only check: simulating {days} days (seed {truth.seed + 1})")
        simulate(where, scenario, seed=truth.seed + 1, scenario_text=text, settings=settings, noise_only=True,
                 progress=progress)
        store = open_store_for(settings.store)
        try:
            return score_noise(store, where, days)
        finally:
            store.close()


def _open_existing(settings: StoreSettings) -> EventStore:
    from honeyscope.collector.wiring import open_store_for

    if settings.kind == "duckdb" and not Path(settings.path).is_file():
        raise ConfigError(f"no store at {settings.path} — run 'honeyscope simulate' with this --data first")
    return open_store_for(settings)


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)
