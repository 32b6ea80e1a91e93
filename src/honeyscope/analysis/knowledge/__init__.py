"""The knowledge base attribution scores against: actors, their indicators, and the sources for each.

    kb = load_knowledge()                       # galaxy actors + honeyscope/intel + nothing else
    kb = load_knowledge([Path("my-intel/")])    # plus the user's intel files
    kb.find("Silk Typhoon").id                  # 'hafnium'

Actors, synonyms, countries and ATT&CK techniques come from the MISP galaxy (``pymispgalaxies``, offline);
indicators from our intel files, each citing its public source. Intel file format: docs/attribution.md.
"""

from honeyscope.analysis.knowledge.files import IntelError, read_intel_file
from honeyscope.analysis.knowledge.imports import (
    ImportResult,
    import_misp_event,
    import_stix_bundle,
    write_indicators_file,
)
from honeyscope.analysis.knowledge.loader import builtin_intel_dir, load_knowledge
from honeyscope.analysis.knowledge.model import (
    INDICATOR_KINDS,
    ActorProfile,
    Claim,
    Indicator,
    KnowledgeBase,
    Source,
    Window,
    normalize,
    normalize_user_agent,
)

__all__ = [
    "INDICATOR_KINDS",
    "ActorProfile",
    "Claim",
    "ImportResult",
    "Indicator",
    "IntelError",
    "KnowledgeBase",
    "Source",
    "Window",
    "builtin_intel_dir",
    "import_misp_event",
    "import_stix_bundle",
    "load_knowledge",
    "normalize",
    "normalize_user_agent",
    "read_intel_file",
    "write_indicators_file",
]
