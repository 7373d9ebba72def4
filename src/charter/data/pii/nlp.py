"""Optional NLP backend for names and places (PERSON, LOCATION), and the analyzer that combines it with the
always-on detectors.

The backend is Presidio's spaCy recognizer on an *installed* spaCy model. Charter never downloads a model: when
presidio-analyzer, spaCy or a model package is missing, :func:`nlp_status` says which, in plain words, and every
scan result lists PERSON and LOCATION as not looked for.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from charter.data.pii import catalog
from charter.data.pii.detectors import Detector, default_detector
from charter.data.pii.errors import PiiError
from charter.data.pii.spans import Span, resolve

#: spaCy model packages looked for, best first
MODELS: tuple[str, ...] = ("en_core_web_lg", "en_core_web_trf", "en_core_web_md", "en_core_web_sm")
NLP_ENTITIES = catalog.NLP_ENTITIES


@dataclass(frozen=True)
class NlpStatus:
    """Whether PERSON / LOCATION can be looked for, and if not, why (a sentence a person can act on)."""

    available: bool
    reason: str
    model: str | None = None
    entities: tuple[str, ...] = field(default=NLP_ENTITIES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "model": self.model,
            "entities": list(self.entities),
        }


def nlp_status(models: Sequence[str] = MODELS) -> NlpStatus:
    """Inspect, without loading or downloading anything heavy, whether the NLP backend can run here."""
    missing = ", ".join(NLP_ENTITIES)
    if importlib.util.find_spec("presidio_analyzer") is None:
        return NlpStatus(
            False,
            f"the NLP backend is absent: presidio-analyzer is not installed, so {missing} are not looked for "
            f"(install presidio-analyzer and a spaCy model such as {models[0]})",
        )
    if importlib.util.find_spec("spacy") is None:
        return NlpStatus(False, f"the NLP backend is absent: spaCy is not installed, so {missing} are not looked for")
    spacy_util = importlib.import_module("spacy.util")
    for model in models:
        if spacy_util.is_package(model):
            return NlpStatus(True, f"{missing} are looked for with Presidio's spaCy recognizer on {model}", model)
    return NlpStatus(
        False,
        f"the NLP backend is absent: no spaCy model is installed (looked for {', '.join(models)}), so {missing} "
        f"are not looked for; Charter never downloads one: install it with `python -m spacy download {models[0]}`",
    )


class NlpBackend:
    """PERSON and LOCATION through Presidio's SpacyRecognizer on a loaded spaCy pipeline (``nlp``)."""

    def __init__(self, nlp: Any, *, model: str = "custom", threshold: float = catalog.DEFAULT_THRESHOLD) -> None:
        analyzer = importlib.import_module("presidio_analyzer")
        nlp_engine_module = importlib.import_module("presidio_analyzer.nlp_engine")
        recognizers = importlib.import_module("presidio_analyzer.predefined_recognizers")
        engine = nlp_engine_module.SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
        engine.nlp = {"en": nlp}  # already loaded: the engine must not load (and so never download) a model
        registry = analyzer.RecognizerRegistry(supported_languages=["en"])
        registry.add_recognizer(
            recognizers.SpacyRecognizer(supported_language="en", supported_entities=list(NLP_ENTITIES))
        )
        self._engine = analyzer.AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
        self.model = model
        self.threshold = threshold

    @classmethod
    def load(cls, status: NlpStatus | None = None) -> NlpBackend | None:
        """The backend on the installed model :func:`nlp_status` found, or None when it is absent."""
        status = status or nlp_status()
        if not status.available or status.model is None:
            return None
        spacy = importlib.import_module("spacy")
        return cls(spacy.load(status.model), model=status.model)

    def find(self, text: str) -> list[Span]:
        results = self._engine.analyze(text=text, language="en", entities=list(NLP_ENTITIES))
        return sorted(Span(r.start, r.end, r.entity_type, float(r.score)) for r in results if r.score >= self.threshold)


class Analyzer:
    """The always-on detectors plus, when given, the NLP backend. ``not_looked_for`` names the entity types
    nothing looked for (PERSON and LOCATION without the backend): scan results and audit reports carry it."""

    def __init__(self, detector: Detector | None = None, nlp: NlpBackend | None = None) -> None:
        self.detector = detector or default_detector()
        self.nlp = nlp

    @property
    def not_looked_for(self) -> tuple[str, ...]:
        return () if self.nlp is not None else NLP_ENTITIES

    @property
    def entities(self) -> frozenset[str]:
        return self.detector.entities | (frozenset(NLP_ENTITIES) if self.nlp is not None else frozenset())

    def find(self, text: str, *, context: Sequence[str] = (), threshold: float | None = None) -> list[Span]:
        return self.find_many([text], context=context, threshold=threshold)[0]

    def find_many(
        self, texts: Sequence[str], *, context: Sequence[str] = (), threshold: float | None = None
    ) -> list[list[Span]]:
        found = self.detector.find_many(texts, context=context, threshold=threshold)
        if self.nlp is None:
            return found
        limit = self.detector.threshold if threshold is None else threshold
        merged: list[list[Span]] = []
        for text, spans in zip(texts, found, strict=True):
            extra = [s for s in self.nlp.find(text) if s.score >= limit]
            merged.append(resolve(spans + extra, _PRIORITY) if extra else spans)
        return merged


_PRIORITY = {**catalog.PRIORITY, **{e: len(catalog.PRIORITY) + i for i, e in enumerate(NLP_ENTITIES)}}


def default_analyzer(*, use_nlp: bool = True) -> Analyzer:
    """Always-on detectors, plus the NLP backend when it is installed (and ``use_nlp``)."""
    if not use_nlp:
        return Analyzer()
    try:
        backend = NlpBackend.load()
    except (OSError, ImportError) as exc:  # a broken model package: say so rather than half-work
        raise PiiError(f"the installed spaCy model could not be loaded: {exc}") from exc
    return Analyzer(nlp=backend)
