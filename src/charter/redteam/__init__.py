"""Safety and red teaming: probe suites as data, attack runs against a target, scanner-report import, findings.

The pure core (no database, no web, no outside I/O of its own):

- `suites`     the probe-suite YAML format and its loader (errors name ``file:line: field: message``);
- `converters` deterministic prompt transformations (base64, leetspeak, payload splitting, role-play wrappers, ...);
- `detectors`  scorers of one output, each in [0, 1], a hit at >= 0.5 (canary, regex, refusal, PII, markup, length,
               tool call, and an injected LLM judge);
- `probing`    the attempt plan and the attempt loop over an injected async ``send(messages) -> output``;
- `imports`    garak report JSON Lines, PyRIT memory exports, a generic CSV, with OWASP 2023 tags remapped to 2025;
- `rules`      attack success rate with its Wilson interval, severity, the finding status table, fix confirmation.

The domain's models, service, API and CLI are wired on top of these by the integrator.
"""
