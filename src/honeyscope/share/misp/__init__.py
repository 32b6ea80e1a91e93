"""MISP export: events and attribution as one MISP event (feed JSON), built offline with ``pymisp``.

    with open("event.json", "wb") as output:
        stats = write_misp(events, output, options=MispOptions(tlp="amber"), clusters=attributed)

``pymisp`` is imported when an event is built (its import takes several seconds). Contents, tags and
limits: docs/sharing.md ("MISP").
"""

from honeyscope.share.misp.event import MispOptions, MispStats, misp_event, write_misp

__all__ = ["MispOptions", "MispStats", "misp_event", "write_misp"]
