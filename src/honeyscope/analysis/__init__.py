"""Analysis over the store: trends (``analysis.trends``); sessions, clusters and attribution.

Every analysis is a pure function over data read from the store; reading is a separate, thin adapter.
"""
