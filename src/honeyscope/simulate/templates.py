"""What one visit sends: single requests and whole exploit chains, as hashable templates.

A template is played once through the real persona (``TemplateStore``, store mode) and its events are then
cloned for every visit that sends it, with the visit's ids, time, source, sensor and connection; or it is
sent for real over a socket (sensor mode). The persona's answer to a request does not depend on who sends
it or when, for the requests the planner makes (no per-time content the events keep), so a clone is the
event the sensor would have written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from honeyscope.simulate import chains
from honeyscope.simulate.chains import Sender, Shell

Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Single:
    """One request."""

    method: str
    target: str
    headers: tuple[Header, ...] = ()
    body: bytes = b""

    def play(self, sender: Sender) -> None:
        """Send it."""
        sender(self.method, self.target, self.headers, self.body)


@dataclass(frozen=True, slots=True)
class Chain:
    """A multi-step exploit chain or check; ``warm`` steps are played first and not kept (a shell planted
    in an earlier visit)."""

    kind: str
    style: str = ""
    shell: Shell | None = None
    tool: str = ""
    agent: str = ""
    oast: str = ""
    mailbox: str = ""
    revisit: bool = False

    def play(self, sender: Sender) -> None:
        """Play the chain or check (a revisit: only the shell's commands)."""
        if self.kind == "proxylogon" and self.shell is not None:
            if self.revisit:
                chains.use_shell(sender, self._used_shell(), self._agents()[2])
            else:
                chains.proxylogon(sender, self.shell, style=self.style, agents=self._agents())
        elif self.kind == "proxyshell" and self.shell is not None:
            chains.proxyshell(sender, self.shell, mailbox=self.mailbox, agent=self.agent)
        elif self.kind == "proxylogon-check":
            chains.proxylogon_check(sender, self.tool, agent=self.agent, oast=self.oast)
        elif self.kind == "proxyshell-check":
            chains.proxyshell_check(sender, self.tool, agent=self.agent)
        else:
            raise ValueError(f"no way to play a {self.kind!r} chain")

    def warm_up(self, sender: Sender) -> None:
        """What must have happened before a revisit: the shell planted by the same address."""
        if self.revisit and self.shell is not None:
            planted = Chain(self.kind, self.style, self.shell, agent=self.agent)
            planted.play(sender)

    def _agents(self) -> tuple[str, str, str]:
        if not self.agent:
            return chains.WILD_AGENTS
        return (self.agent, self.agent, self.agent)

    def _used_shell(self) -> Shell:
        assert self.shell is not None
        directory = "owa/auth" if self.style == "metasploit" else self.shell.directory
        return Shell(self.shell.name, directory, self.shell.key, self.shell.commands)


Template = Single | Chain

_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def random_token(rng: random.Random, length: int) -> str:
    """Letters and digits, as tools make up names and keys."""
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


def random_name(rng: random.Random, length: int = 8) -> str:
    """A web-shell name like the ones mass exploitation dropped (``[a-zA-Z0-9]{8}.aspx``, facts C)."""
    return random_token(rng, length) + ".aspx"
