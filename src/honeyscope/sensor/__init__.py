"""The sensor: asyncio listeners around sans-io HTTP parsing and persona logic, writing to a spool.

The sensor never imports the collector side. It never executes, evaluates or deserialises attacker input
and never opens an outbound connection on an attacker's behalf.
"""
