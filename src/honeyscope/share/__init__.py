"""Outputs other tools read: ECS JSON lines (``share.ecs``) and IIS W3C logs (``share.iis``, export and
import). Every exporter takes an iterable of events, whatever their source (spool, file, store)."""
