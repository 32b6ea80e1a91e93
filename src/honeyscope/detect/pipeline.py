"""The pySigma processing pipeline that maps the Sigma webserver taxonomy onto our canonical fields.

It is an ordinary ``ProcessingPipeline`` (a field-mapping transformation over ``fields.TAXONOMY``), so
other pySigma tooling can reuse it: ``webserver_pipeline().apply(rule)`` renames the fields of a rule's
detection items and of a correlation rule's ``group-by`` / ``field``.
"""

from __future__ import annotations

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

from honeyscope.detect.fields import TAXONOMY


def webserver_pipeline() -> ProcessingPipeline:
    """A fresh pipeline (pySigma pipelines keep per-rule state while applied: one per load)."""
    mapping: dict[str | None, str | list[str]] = {}
    mapping.update(TAXONOMY)
    return ProcessingPipeline(
        name="honeyscope webserver taxonomy → ECS",
        priority=20,
        items=[ProcessingItem(FieldMappingTransformation(mapping), identifier="honeyscope_webserver_fields")],
    )
