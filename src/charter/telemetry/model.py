"""The one model every dialect maps to: `GenAISpan`, its messages and its evaluation results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypedDict

# Operation names: the OTel GenAI `gen_ai.operation.name` well-known values, then the names this module gives the
# span kinds of other dialects that have no OTel counterpart.
OPERATIONS: Final = (
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "retrieval",
    "execute_tool",
    "create_agent",
    "invoke_agent",
    "invoke_workflow",
    "execute_task",  # Traceloop task
    "rerank",  # OpenInference RERANKER, Traceloop llm.request.type rerank
    "guardrail",  # OpenInference GUARDRAIL
    "evaluate",  # OpenInference EVALUATOR
    "chain",  # OpenInference CHAIN
    "render_prompt",  # OpenInference PROMPT
    "evaluation",  # a span carrying only evaluation results
    "unknown",
)


class Message(TypedDict):
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A `gen_ai.evaluation.result` event (or a dialect's equivalent) on the span it judges."""

    name: str
    score_value: float | None = None
    score_label: str | None = None
    explanation: str | None = None
    response_id: str | None = None


@dataclass(slots=True)
class GenAISpan:
    system: str  # the Charter system key
    trace_id: str  # 32 lower-case hex digits
    span_id: str  # 16 lower-case hex digits
    parent_span_id: str | None
    name: str
    dialect: str  # otel | otel_deprecated | openinference | traceloop: the first whose markers the span carries
    operation: str  # one of OPERATIONS, or the span's own gen_ai.operation.name when it names another
    provider: str | None  # normalized: OTel gen_ai.provider.name values where one applies
    request_model: str | None
    response_model: str | None
    start: datetime
    end: datetime
    latency_ms: float
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    finish_reasons: tuple[str, ...] = ()
    is_error: bool = False
    error_type: str | None = None
    error_message: str | None = None
    conversation_id: str | None = None
    response_id: str | None = None
    prompt: str | None = None  # name@version, from charter.prompt
    prompt_hash: str | None = None  # from charter.prompt.hash, for the prompt registry to resolve
    entity: str | None = None  # tool, agent or workflow name
    service_name: str | None = None  # resource service.name
    service_version: str | None = None  # resource service.version
    environment: str | None = None  # resource deployment.environment.name (or the deprecated deployment.environment)
    input_messages: list[Message] | None = None
    output_messages: list[Message] | None = None
    content_truncated: bool = False
    evaluations: list[Evaluation] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        """The model a request named (stable across provider snapshots), else the one that answered."""
        return self.request_model or self.response_model

    @property
    def has_content(self) -> bool:
        return bool(self.input_messages or self.output_messages)
