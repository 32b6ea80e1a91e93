"""IIS W3C extended logs: export decoy events as ``u_exYYMMDD.log`` (IIS's default fields, so log content
written for real IIS/Exchange runs unchanged), read real servers' logs back as events, and hunt them."""

from honeyscope.share.iis.fields import DEFAULT_FIELDS, field_value, header_block
from honeyscope.share.iis.hunt import (
    NO_CVE,
    EventDetector,
    Finding,
    HuntReport,
    LineDetector,
    hunt,
    sigma_event_detectors,
    yara_line_detector,
)
from honeyscope.share.iis.reader import OBSERVER_NAME, W3CRecord, read_w3c, record_to_event
from honeyscope.share.iis.writer import IisExportOptions, IisExportStats, iis_line, log_file_name, write_iis_logs

__all__ = [
    "DEFAULT_FIELDS",
    "NO_CVE",
    "OBSERVER_NAME",
    "EventDetector",
    "Finding",
    "HuntReport",
    "IisExportOptions",
    "IisExportStats",
    "LineDetector",
    "W3CRecord",
    "field_value",
    "header_block",
    "hunt",
    "iis_line",
    "log_file_name",
    "read_w3c",
    "record_to_event",
    "sigma_event_detectors",
    "write_iis_logs",
    "yara_line_detector",
]
