"""The shipper: spool → bus, at least once, resumable, never blocking the sensor (see ``shipper.py``)."""

from honeyscope.shipper.offset import OFFSET_FILE, Offset, OffsetFile
from honeyscope.shipper.rejected import REJECTED_FILE, RejectedLog, RejectedRecord
from honeyscope.shipper.shipper import Shipper, ShipperStats

__all__ = ["OFFSET_FILE", "REJECTED_FILE", "Offset", "OffsetFile", "RejectedLog", "RejectedRecord", "Shipper",
           "ShipperStats"]
