"""honeyscope: a honeypot observatory.

Decoy web services (a faithful Microsoft Exchange first) record every attack in full; downstream stages
enrich, detect, analyse and share what they saw. The package layout follows the data flow:
``events`` (the contract) → ``sensor`` (decoys + spool) → collector side → outputs.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
