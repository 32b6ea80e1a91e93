"""Just enough of MS-PSRP to keep a remote PowerShell client talking: fragment framing, the few
server messages a runspace pool and a pipeline need, and reading cmdlet names and arguments out of a
CREATE_PIPELINE message as *text* (regular expressions over CLIXML; nothing is deserialised)."""

from __future__ import annotations

import html
import re
import struct
import uuid
from dataclasses import dataclass, field

SESSION_CAPABILITY = 0x00010002
INIT_RUNSPACEPOOL = 0x00010004
RUNSPACEPOOL_STATE = 0x00021005
CREATE_PIPELINE = 0x00021006
APPLICATION_PRIVATE_DATA = 0x00021009
PIPELINE_OUTPUT = 0x00041004
PIPELINE_STATE = 0x00041006

_CLIENT, _SERVER = 0x00000001, 0x00000002
_FRAGMENT_HEADER = struct.Struct(">QQBI")
_MESSAGE_HEADER = struct.Struct("<II16s16s")
_BOM = b"\xef\xbb\xbf"
#: Bound on fragments read from one request: a pipeline is a few; more is noise or abuse.
_MAX_FRAGMENTS = 512

#: Markers of the CVE-2022-41082 deserialisation gadget inside pipeline arguments.
GADGET_MARKERS = ("TargetTypeForDeserialization", "XamlReader", "ObjectDataProvider", "UnitySerializationHolder",
                  "System.Windows.Markup", "SerializationData", "System.Diagnostics.Process")


@dataclass(frozen=True, slots=True)
class Message:
    """One PSRP message (its data is CLIXML text)."""

    message_type: int
    rpid: uuid.UUID
    pid: uuid.UUID
    data: str


@dataclass(slots=True)
class Cmdlet:
    """A command of a pipeline: its name (or script) and named arguments, all as text."""

    name: str
    parameters: dict[str, str] = field(default_factory=dict)
    positional: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The command as a PowerShell line, for the record."""
        named = " ".join(f"-{name} {_quote(value)}" for name, value in self.parameters.items())
        return " ".join(part for part in (self.name, named, " ".join(map(_quote, self.positional))) if part)


def _quote(value: str) -> str:
    return f"'{value}'" if value and not value.startswith("<") else value


def decode_fragments(blob: bytes) -> list[Message]:
    """Reassemble the messages in a base64-decoded stream of fragments (tolerant of garbage)."""
    parts: dict[int, bytearray] = {}
    complete: list[bytes] = []
    offset = 0
    for _ in range(_MAX_FRAGMENTS):
        if offset + _FRAGMENT_HEADER.size > len(blob):
            break
        object_id, _fragment_id, flags, length = _FRAGMENT_HEADER.unpack_from(blob, offset)
        offset += _FRAGMENT_HEADER.size
        parts.setdefault(object_id, bytearray()).extend(blob[offset:offset + length])
        offset += length
        if flags & 0x2:
            complete.append(bytes(parts.pop(object_id)))
    return [message for message in map(_parse_message, complete) if message is not None]


def _parse_message(raw: bytes) -> Message | None:
    if len(raw) < _MESSAGE_HEADER.size:
        return None
    _destination, message_type, rpid, pid = _MESSAGE_HEADER.unpack_from(raw)
    data = raw[_MESSAGE_HEADER.size:].removeprefix(_BOM).decode("utf-8", "replace")
    return Message(message_type, uuid.UUID(bytes_le=rpid), uuid.UUID(bytes_le=pid), data)


def encode_message(message_type: int, rpid: uuid.UUID, pid: uuid.UUID, data: str, object_id: int,
                   *, to_server: bool = False) -> bytes:
    """One message as a single start+end fragment."""
    destination = _SERVER if to_server else _CLIENT
    body = _MESSAGE_HEADER.pack(destination, message_type, rpid.bytes_le, pid.bytes_le) + _BOM + data.encode()
    return _FRAGMENT_HEADER.pack(object_id, 0, 0x3, len(body)) + body


# -- server messages -----------------------------------------------------------------------------


def session_capability() -> str:
    return ('<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version><Version N="PSVersion">2.0</Version>'
            '<Version N="SerializationVersion">1.1.0.1</Version></MS></Obj>')


def application_private_data() -> str:
    return ('<Obj RefId="0"><MS><Obj N="ApplicationPrivateData" RefId="1"><TN RefId="0">'
            "<T>System.Management.Automation.PSPrimitiveDictionary</T><T>System.Collections.Hashtable</T>"
            "<T>System.Object</T></TN><DCT /></Obj></MS></Obj>")


def runspace_state(state: int) -> str:
    """RUNSPACEPOOL_STATE data; 2 = Opened."""
    return f'<Obj RefId="0"><MS><I32 N="RunspaceState">{state}</I32></MS></Obj>'


def pipeline_state(state: int) -> str:
    """PIPELINE_STATE data; 4 = Completed."""
    return f'<Obj RefId="0"><MS><I32 N="PipelineState">{state}</I32></MS></Obj>'


def output_object(type_names: list[str], to_string: str, properties: dict[str, str]) -> str:
    """PIPELINE_OUTPUT data: an Exchange object with its ToString and a few properties."""
    names = "".join(f"<T>{html.escape(name)}</T>" for name in [*type_names, "System.Object"])
    props = "".join(f'<S N="{html.escape(k)}">{html.escape(v)}</S>' for k, v in properties.items())
    return (f'<Obj RefId="0"><TN RefId="0">{names}</TN><ToString>{html.escape(to_string)}</ToString>'
            f"<Props>{props}</Props></Obj>")


# -- reading pipelines as text -------------------------------------------------------------------

_CMD = re.compile(r'<S N="Cmd">(.*?)</S>\s*<B N="IsScript">(true|false)</B>', re.DOTALL | re.IGNORECASE)
_ARG = re.compile(
    r'(?:<S N="N">(?P<name>.*?)</S>|<Nil N="N"\s*/>)\s*'
    r'(?:<(?P<tag>\w+) N="V"[^>]*?(?:/>|>(?P<value>.*?)</(?P=tag)>)|<Nil N="V"\s*/>)',
    re.DOTALL,
)
_SCRIPT_COMMAND = re.compile(r"\b([A-Za-z]+-[A-Za-z]+)\b")
_SCRIPT_PARAMETER = re.compile(r"""\s-(\w+)(?::|\s+)("[^"]*"|'[^']*'|[^\s-][^\s]*)""")
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")


def text_of(xml_text: str) -> str:
    """CLIXML string content: XML entities and ``_xHHHH_`` escapes undone."""
    return _ESCAPED_CHAR.sub(lambda m: chr(int(m.group(1), 16)), html.unescape(xml_text))


def pipeline_commands(clixml: str) -> list[Cmdlet]:
    """The commands of a CREATE_PIPELINE message, in order."""
    matches = list(_CMD.finditer(clixml))
    commands = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(clixml)
        name = text_of(match.group(1))
        if match.group(2).lower() == "true":
            commands.extend(script_commands(name))
            continue
        commands.append(_with_arguments(Cmdlet(name), clixml[match.end():end]))
    return commands


def _with_arguments(cmdlet: Cmdlet, segment: str) -> Cmdlet:
    for arg in _ARG.finditer(segment):
        value = text_of(arg.group("value") or "") if arg.group("tag") != "Obj" else "<object>"
        if arg.group("name") is not None:
            cmdlet.parameters[text_of(arg.group("name")).strip().lstrip("-").rstrip(":")] = value
        else:
            cmdlet.positional.append(value)
    return cmdlet


def script_commands(script: str) -> list[Cmdlet]:
    """Commands of a script line (``add_script``): each ``Verb-Noun`` and its ``-Name value`` pairs."""
    commands = []
    for statement in re.split(r"[;\n|]", script):
        found = _SCRIPT_COMMAND.search(statement)
        if not found:
            continue
        cmdlet = Cmdlet(found.group(1))
        for parameter in _SCRIPT_PARAMETER.finditer(statement[found.end():]):
            cmdlet.parameters[parameter.group(1)] = parameter.group(2).strip("'\"")
        commands.append(cmdlet)
    return commands


def has_gadget(clixml: str) -> bool:
    """Whether pipeline arguments carry the CVE-2022-41082 deserialisation gadget."""
    return any(marker in clixml for marker in GADGET_MARKERS)
