"""What IIS and http.sys answer to requests they refuse, shared by IIS-based personas.

http.sys rejects malformed requests before IIS sees them, so those answers carry
``Server: Microsoft-HTTPAPI/2.0`` and an http.sys error page. IIS itself answers missing files, refused
verbs and failures with its "custom errors" pages as a remote client sees them (detailed errors are
local-only by default). Titles and messages are facts of the emulated server; the markup is our own.
"""

from __future__ import annotations

from typing import Final

from honeyscope.sensor.http.parser import ErrorKind, RawRequest
from honeyscope.sensor.http.response import Response

# error kind → (status, title, message)
_HTTPSYS: Final[dict[str, tuple[int, str, str]]] = {
    ErrorKind.BAD_URL: (400, "Bad Request - Invalid URL", "HTTP Error 400. The request URL is invalid."),
    ErrorKind.BAD_VERB: (400, "Bad Request - Invalid Verb", "HTTP Error 400. The request verb is invalid."),
    ErrorKind.BAD_HEADER_NAME: (400, "Bad Request - Invalid Header",
                                "HTTP Error 400. The request has an invalid header name."),
    ErrorKind.BAD_HEADER_VALUE: (400, "Bad Request - Invalid Header",
                                 "HTTP Error 400. The request has an invalid header name."),
    ErrorKind.BAD_HOST: (400, "Bad Request - Invalid Hostname",
                         "HTTP Error 400. The request hostname is invalid."),
    ErrorKind.HEAD_TOO_LARGE: (400, "Bad Request - Request Too Long",
                               "HTTP Error 400. The size of the request headers is too long."),
    ErrorKind.TOO_MANY_HEADERS: (400, "Bad Request - Request Too Long",
                                 "HTTP Error 400. The size of the request headers is too long."),
    ErrorKind.REQUEST_LINE_TOO_LONG: (414, "Request URL Too Long",
                                      "HTTP Error 414. The request URL is too long."),
    ErrorKind.BAD_VERSION: (505, "HTTP Version Not Supported",
                            "HTTP Error 505. The HTTP version is not supported."),
    ErrorKind.HTTP2_PREFACE: (505, "HTTP Version Not Supported",
                              "HTTP Error 505. The HTTP version is not supported."),
    ErrorKind.BAD_TRANSFER_ENCODING: (501, "Not Implemented",
                                      "HTTP Error 501. The request transfer encoding type is not supported."),
}
_DEFAULT: Final = (400, "Bad Request", "HTTP Error 400. The request is badly formed.")


def httpsys_error_page(title: str, message: str) -> bytes:
    """An http.sys-style error document."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
        f"<HTML><HEAD><TITLE>{title.split(' - ')[0]}</TITLE>\r\n"
        '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
        f"<BODY><h2>{title}</h2>\r\n<hr><p>{message}</p>\r\n</BODY></HTML>\r\n"
    ).encode("ascii")


def httpsys_reject(request: RawRequest) -> Response:
    """http.sys's answer to a request it could not accept; the connection is closed afterwards."""
    status, title, message = _HTTPSYS.get(request.error or "", _DEFAULT)
    headers = [("Content-Type", "text/html; charset=us-ascii"), ("Server", "Microsoft-HTTPAPI/2.0")]
    return Response(status, headers, httpsys_error_page(title, message), close=True)


# status → (title, explanation) of IIS's remote-client error pages.
_IIS_ERRORS: Final[dict[int, tuple[str, str]]] = {
    401: ("401 - Unauthorized: Access is denied due to invalid credentials.",
          "You do not have permission to view this directory or page using the credentials that you supplied."),
    403: ("403 - Forbidden: Access is denied.",
          "You do not have permission to view this directory or page using the credentials that you supplied."),
    404: ("404 - File or directory not found.",
          "The resource you are looking for might have been removed, had its name changed, or is temporarily "
          "unavailable."),
    405: ("405 - HTTP verb used to access this page is not allowed.",
          "The page you are looking for cannot be displayed because an invalid method (HTTP verb) was used to "
          "attempt access."),
    500: ("500 - Internal server error.",
          "There is a problem with the resource you are looking for, and it cannot be displayed."),
}

#: Verbs IIS's static file handler accepts (the ``Allow`` header of its 405).
STATIC_VERBS: Final = ("GET", "HEAD", "OPTIONS", "TRACE")


def iis_error_page(status: int) -> bytes:
    """IIS's error document for ``status`` as a remote client sees it (our markup, IIS's words)."""
    title, explanation = _IIS_ERRORS.get(status, _IIS_ERRORS[500])
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
        '<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>\r\n'
        f"<title>{title}</title>\r\n"
        '<style type="text/css">\r\n'
        "body{margin:0;font-size:.7em;font-family:Verdana,Arial,Helvetica,sans-serif;background:#eeeeee;}\r\n"
        "h1{margin:0;padding:12px 2% 8px;font-size:2.4em;color:#ffffff;background:#555555;}\r\n"
        "h2{font-size:1.7em;margin:0;color:#cc0000;}\r\nh3{font-size:1.2em;margin:10px 0 0;color:#000000;}\r\n"
        "div.box{margin:16px 2%;padding:10px;background:#ffffff;border:1px solid #cccccc;}\r\n"
        "</style>\r\n</head>\r\n<body>\r\n<h1>Server Error</h1>\r\n<div class=\"box\">\r\n"
        f"<h2>{title}</h2>\r\n<h3>{explanation}</h3>\r\n</div>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")


def iis_error(status: int, server: str, *, allow: tuple[str, ...] = ()) -> Response:
    """An IIS error response (403, 404, 405, 500 ...) with IIS's headers; ``allow`` lists the verbs of a 405."""
    headers = [("Content-Type", "text/html"), ("Server", server)]
    if allow:
        headers.insert(0, ("Allow", ", ".join(allow)))
    headers.append(("X-Powered-By", "ASP.NET"))
    return Response(status, headers, iis_error_page(status))
