"""Sans-io HTTP/1.x: a lenient request parser that keeps raw bytes, and response serialisation."""

from honeyscope.sensor.http.headers import Headers
from honeyscope.sensor.http.parser import HttpParser, ParseLimits, RawRequest
from honeyscope.sensor.http.response import Response, serialize_response

__all__ = ["Headers", "HttpParser", "ParseLimits", "RawRequest", "Response", "serialize_response"]
