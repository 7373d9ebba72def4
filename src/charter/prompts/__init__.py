"""Prompt lifecycle core (pure: no database, no web, no outside I/O).

- `templates`: text and chat templates rendered by Jinja2's sandbox (`{{name}}`), variables, syntax errors with line
  and column, missing/unknown variables, content hash; `config`: model configuration validation;
  `lexing`: positioned tokens, `name@label|version` references, include tags.
- `compose`: `{% include "name@label" %}` resolved at serve time through an injected resolver, with cycle detection.
- `diff`: line/word diff of templates, per-message diff of chats, variables and config changes.
- `files`: prompt files (prompts as code) and the push plan; `exchange`: Langfuse and MLflow import/export.
- `cache`: the SDK's served `Prompt` and `PromptCache` (TTL, stale-while-revalidate, ETag, fallback).
"""
