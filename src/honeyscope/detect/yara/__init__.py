"""YARA-X over request bodies and stored artifacts: our Exchange web-shell rules plus any rule pack
(signature-base loads unchanged), producing ``Detection(engine="yara")`` on events.

    scanner = YaraScanner.load([*builtin_yara_paths(), "signature-base/yara"])
    for line in scanner.errors:          # "file:line: message" per rule file that failed
        print(line)
    scanner.scan_event(event, artifact_root=spool_dir)   # appends detections, marks an alert
"""

from honeyscope.detect.yara.loader import EXTERNALS, builtin_yara_paths
from honeyscope.detect.yara.pst import attacker_form, written_form
from honeyscope.detect.yara.scanner import YaraLimits, YaraScanner, scan_all

__all__ = [
    "EXTERNALS",
    "YaraLimits",
    "YaraScanner",
    "attacker_form",
    "builtin_yara_paths",
    "scan_all",
    "written_form",
]
