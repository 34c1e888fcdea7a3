"""The fracture endpoint vocabulary: each endpoint's name, meaning and engine events, once.

The endpoint tables (``analyses.endpoints``), the Python API (``osteotrial.api``), the command
line and the figures name fracture endpoints with these words and no others
(``tests/test_vocabulary.py`` holds them to it). The words are the trials': ``nonvertebral``
*includes* hip fractures, as in FREEDOM and FRAME; the other nonvertebral fractures, when
needed alone, are ``nonvertebral_other_than_hip``.

The engine draws three fracture types (``model.records.FRACTURE_TYPES``), named for the
hazards it fits: ``vertebral``, ``hip`` and ``nonvertebral``, where the engine's
``nonvertebral`` type (``ArmResult.nonvertebral_fracture_days``, the shards'
``nonvertebral_fracture_day_k`` columns) means *other than hip*. ``ENGINE_EVENTS`` maps the
events an endpoint is made of to those types, so that the engine's name never leaks out.
"""

from __future__ import annotations

from dataclasses import dataclass

# event -> (engine fracture type, only the events flagged clinical)
ENGINE_EVENTS: dict[str, tuple[str, bool]] = {
    "vertebral": ("vertebral", False),
    "clinical_vertebral": ("vertebral", True),
    "hip": ("hip", False),
    "nonvertebral_other_than_hip": ("nonvertebral", False),
}


@dataclass(frozen=True)
class Endpoint:
    """A fracture endpoint: ``name`` in tables and columns, ``label`` in printed columns and
    legends (no double spaces), ``definition`` in words, ``events`` (keys of
    ``ENGINE_EVENTS``) whose ``min_events``-th occurrence is the endpoint's event (the first,
    unless the endpoint counts several fractures), and ``imaging``: True for an endpoint found at
    imaging visits, counted among the women imaged there (risk ratio and Fisher's exact test, no
    time to event), False for a clinical one (counted when it happens, before death or
    dropout)."""

    name: str
    label: str
    definition: str
    events: tuple[str, ...]
    imaging: bool = False
    min_events: int = 1


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            "new_vertebral",
            "new vert",
            "any new vertebral fracture, clinical or seen only at imaging (morphometric); the "
            "endpoint tables count it among the women imaged at the visit",
            ("vertebral",),
            imaging=True,
        ),
        Endpoint(
            "multiple_new_vertebral",
            "multi new vert",
            "two or more new vertebral fractures found by imaging by the visit (the trials' "
            "multiple new vertebral fractures), counted among the women imaged at the visit",
            ("vertebral",),
            imaging=True,
            min_events=2,
        ),
        Endpoint(
            "clinical_vertebral",
            "clin vert",
            "a new vertebral fracture that is clinically diagnosed (symptomatic)",
            ("clinical_vertebral",),
        ),
        Endpoint("hip", "hip", "a hip fracture", ("hip",)),
        Endpoint(
            "nonvertebral",
            "nonvert incl hip",
            "any nonvertebral fracture, hip included (the trials' nonvertebral endpoint)",
            ("hip", "nonvertebral_other_than_hip"),
        ),
        Endpoint(
            "nonvertebral_other_than_hip",
            "nonvert excl hip",
            "a nonvertebral fracture at a site other than the hip",
            ("nonvertebral_other_than_hip",),
        ),
        Endpoint(
            "clinical",
            "clinical",
            "any clinical fracture: nonvertebral (hip included) or clinical vertebral",
            ("clinical_vertebral", "hip", "nonvertebral_other_than_hip"),
        ),
    )
}


def endpoint(name: str) -> Endpoint:
    """Return the endpoint called ``name``; a name outside the vocabulary is an error."""
    if name not in ENDPOINTS:
        raise KeyError(f"endpoint {name!r} is not in the vocabulary; known: {sorted(ENDPOINTS)}")
    return ENDPOINTS[name]


def at_imaging(name: str) -> bool:
    """Return True if endpoint ``name`` is found at imaging visits (module docstring)."""
    return endpoint(name).imaging


def label(name: str) -> str:
    """Return the short label of endpoint ``name`` (printed columns, legends)."""
    return endpoint(name).label


# Skeletal-related events (bone metastases, issue 26): the four event types the trials count,
# in this order (it also breaks ties of same-day events: the first listed is the one counted).
SRE_TYPES: dict[str, str] = {
    "pathologic_fracture": "pathologic fracture",
    "radiation_to_bone": "radiation to bone",
    "surgery_to_bone": "surgery to bone",
    "spinal_cord_compression": "spinal cord compression",
}
