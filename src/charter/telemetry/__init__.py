"""Telemetry: OpenTelemetry GenAI traces in, metric points out (issue 22).

The pure core, no database, no web and no other Charter imports:

- `otlp`: an OTLP/HTTP `ExportTraceServiceRequest` body (application/x-protobuf or application/json, optionally
  gzip/deflate) decoded into encoding-neutral `RawSpan`s (`wire`; the OTLP/JSON reader is `otlp_json`); refusals as
  `OtlpError`s carrying their HTTP status (400 bad payload, 413 too large, 415 unsupported media type or content
  coding); the `TimeWindow` around an injected clock; the OTLP response bodies (`ExportTraceServiceResponse` with
  partial success, `google.rpc.Status` for failures).
- `mapping` (with `dialects/`): a GenAI span in the current or deprecated OTel GenAI semantic conventions,
  OpenInference or Traceloop/OpenLLMetry mapped to one `GenAISpan` (`model`).
- `ingest`: what the endpoint runs on a body — decode, resolve the Charter system, skip non-GenAI spans, check times,
  map — with the per-span rejections and warnings an OTLP partial success reports.
- `rollup`: mapped spans aggregated per system, provider, model, operation and prompt version over a time bucket
  into `(name, value, ts, labels)` metric points, cost from a validated price table, evaluation scores.
"""
