"""``honeyscope attribute``: sessions → activity clusters → the actor behind each, with evidence and confidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from honeyscope.analysis.attribution import Attribution, AttributionReport
from honeyscope.cli.sessions import add_store_arguments, format_table, load_sessions, printable
from honeyscope.config import ConfigError

#: Unattributed clusters with a lead shown in the table (strongest first) unless --all.
LEADS_SHOWN = 20


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "attribute", help="attribute activity clusters to actors, with evidence and a STIX 2.1 confidence",
        description="Group the store's events into sessions, link sessions into activity clusters (shared "
                    "infrastructure, tool fingerprints, web shells, payloads) and score each cluster against "
                    "the actor profiles: the MISP galaxy's actors plus honeyscope's curated intel, DATA/intel "
                    "and --intel files. Each judgement names its evidence and sources, a confidence 0-100 with "
                    "STIX 2.1 / ICD 203 words, and the next-best hypotheses. Geography never attributes alone; "
                    "'unattributed' is a valid answer.",
        epilog="Examples: honeyscope attribute --data ./honeyscope-data --json\n"
               "          honeyscope attribute --import misp-event.json --actor hafnium   (adds to DATA/intel)")
    add_store_arguments(parser)
    parser.add_argument("--intel", action="append", default=[], type=Path, metavar="PATH",
                        help="extra intel files or directories (repeatable); DATA/intel is read when it exists")
    parser.add_argument("--min-confidence", type=int, default=None, metavar="N",
                        help="smallest confidence that names an actor (default 30, the start of STIX 'Med')")
    parser.add_argument("--all", action="store_true",
                        help=f"list every cluster (default: the attributed ones and the {LEADS_SHOWN} strongest leads)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")
    parser.add_argument("--import", dest="import_file", type=Path, metavar="FILE",
                        help="instead of attributing: add the indicators of a MISP event JSON or STIX 2.1 bundle "
                             "to --actor's profile (written as an intel file under DATA/intel)")
    parser.add_argument("--actor", help="actor profile id the --import indicators belong to (e.g. hafnium)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.import_file is not None:
        return _import(args)
    from honeyscope.analysis.attribution import AttributionModel, attribute
    from honeyscope.analysis.clusters import build_clusters
    from honeyscope.analysis.knowledge import load_knowledge

    model = AttributionModel()
    if args.min_confidence is not None:
        if not 0 <= args.min_confidence <= 100:
            raise ConfigError(f"--min-confidence {args.min_confidence}: must be 0..100 (default 30)")
        model = msgspec.structs.replace(model, min_confidence=args.min_confidence)
    knowledge = load_knowledge(_intel_paths(args))
    report = attribute(build_clusters(load_sessions(args)), knowledge, model)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    else:
        print(render_report(report, show_all=args.all))
    return 0


def _intel_paths(args: argparse.Namespace) -> list[Path]:
    local = args.data.resolve() / "intel"
    return [*([local] if local.is_dir() else []), *args.intel]


def _import(args: argparse.Namespace) -> int:
    from honeyscope.analysis.knowledge import (
        IntelError,
        import_misp_event,
        import_stix_bundle,
        load_knowledge,
        write_indicators_file,
    )

    if not args.actor:
        raise ConfigError("--import needs --actor ID: the profile the indicators belong to (e.g. --actor hafnium)")
    known = load_knowledge(_intel_paths(args))
    profile = known.find(args.actor)
    if profile is None:
        raise ConfigError(f"--actor {args.actor!r}: no such actor profile — use an id, name or synonym such as "
                          "hafnium, 'Silk Typhoon' or APT27")
    path: Path = args.import_file
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error}) — pass an existing MISP or STIX JSON file") from None
    importer = import_stix_bundle if '"bundle"' in head and '"Event"' not in head else import_misp_event
    result = importer(path, profile.id)
    target = write_indicators_file(result, args.data.resolve() / "intel", f"{profile.id}-{path.stem}")
    try:
        load_knowledge([target])
    except IntelError as error:
        target.unlink()
        raise ConfigError(f"the imported file did not validate ({error}) — nothing was added") from None
    print(f"added {len(result.content.indicators)} indicators to {profile.name} ({profile.id}) in {target}; "
          f"skipped {result.skipped} entries of other kinds")
    return 0


def render_report(report: AttributionReport, *, show_all: bool = False) -> str:
    """Readable table: attributed clusters first, then leads, then (with ``show_all``) the rest."""
    if report.message:
        return report.message
    ranked = sorted(report.clusters, key=lambda r: (r.actor is None, r.best is None,
                                                     -(r.best.confidence if r.best else 0), r.first_seen, r.cluster))
    attributed = [r for r in ranked if r.actor is not None]
    leads = [r for r in ranked if r.actor is None and r.best is not None]
    shown = ranked if show_all else attributed + leads[:LEADS_SHOWN]
    rows = [("CLUSTER", "SESSIONS", "SOURCES", "FIRST SEEN (UTC)", "ACTOR", "CONFIDENCE", "TOP EVIDENCE")]
    for result in shown:
        rows.append((result.cluster, str(result.sessions), _sources(result.source_ips, result.sessions),
                     result.first_seen.strftime("%Y-%m-%d %H:%M"), _actor(result), _confidence(result),
                     _top_evidence(result)))
    lines = [f"{report.sessions} sessions in {len(report.clusters)} clusters; {report.attributed} attributed."]
    lines += format_table(rows, width=60) if shown else []
    if not show_all:
        hidden_leads = len(leads) - min(len(leads), LEADS_SHOWN)
        nothing = len(ranked) - len(attributed) - len(leads)
        if hidden_leads:
            lines.append(f"({hidden_leads} more unattributed clusters with weaker leads; --all lists them)")
        if nothing:
            lines.append(f"({nothing} clusters matched no profile's indicators or tools: unattributed; --all lists "
                         "them)")
    lines.append("Confidence: STIX 2.1 None/Low/Med/High (0/1-29/30-69/70-100); --json has every evidence item, "
                 "its source and weight, and the alternative hypotheses.")
    return "\n".join(lines)


def _sources(addresses: list[str], sessions: int) -> str:
    first = addresses[0] if addresses else "-"
    return first if len(addresses) <= 1 else f"{first} +{len(addresses) - 1}"


def _actor(result: Attribution) -> str:
    if result.actor is not None:
        return str(result.actor_name)
    if result.best is not None:
        return f"unattributed (lead: {result.best.name})"
    return "unattributed"


def _confidence(result: Attribution) -> str:
    best = result.best
    if best is None:
        return "-"
    return f"{best.level} {best.confidence}" + ("" if result.actor is not None else " (below threshold)")


def _top_evidence(result: Attribution) -> str:
    if result.best is None:
        return printable(result.reason, 60)
    items = result.best.evidence[:3]
    return "; ".join(f"{e.kind} {printable(e.value, 28)}" for e in items)
