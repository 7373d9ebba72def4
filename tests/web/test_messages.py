"""Plain-language errors (issue 13, finding 2): one mapping from validation errors and refusals to sentences
that name the field and say what is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from charter.evidence.rules import check_allowed
from charter.inventory.schemas import SystemCreate
from charter.kit.errors import PayloadTooLarge, ValidationFailed
from charter.web.forms import GENERAL, field_errors, refusal_errors


def _errors(**data: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as exc:
        SystemCreate.model_validate({"key": "ok-key", "name": "A", "deployment_type": "embedded", **data})
    return field_errors(exc.value)


def test_a_pattern_becomes_what_is_allowed() -> None:
    assert _errors(key="Bad Key!")["key"] == (
        "Key: use 3 to 64 lowercase letters, digits and dashes, starting with a letter or digit (e.g. support-bot)"
    )


def test_a_choice_names_the_choices_and_a_number_asks_for_a_number() -> None:
    errors = _errors(deployment_type="cloud", users_affected="many")
    assert (
        errors["deployment_type"]
        == "Deployment type: choose one of in_house_model, vendor_api, vendor_saas or embedded"
    )
    assert errors["users_affected"] == "Users affected: enter a whole number, e.g. 1200"


def test_a_cross_field_rule_lands_beside_its_field_in_words() -> None:
    errors = _errors(deployment_type="vendor_api")
    assert errors == {"vendor_name": "Vendor: name the vendor: it is required for vendor APIs and vendor SaaS"}


def test_no_validator_jargon_is_left() -> None:
    for errors in (_errors(key="x"), _errors(name=""), _errors(deployment_type="vendor_saas")):
        text = " ".join(errors.values())
        assert "String should" not in text and "Value error" not in text and "_" not in text.split(":")[0]


def test_a_refused_upload_says_which_files_are_welcome_without_mime_types_or_settings() -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_allowed("application/x-msdownload", "setup.exe", ["application/pdf", "text/csv", "image/png"])
    message = refusal_errors(exc.value)["file"]
    assert message == "File: this kind of file is not kept as evidence; upload a PDF, PNG or CSV file"
    big = refusal_errors(PayloadTooLarge("too big (CHARTER_EVIDENCE_MAX_BYTES)", limit=10 * 1_048_576))
    assert big == {"file": "File: larger than the 10 MiB limit for evidence; nothing was stored"}


def test_a_refusal_naming_one_field_is_shown_beside_it() -> None:
    exc = ValidationFailed("unknown severity 'X'; allowed: LOW, HIGH", errors=[{"loc": ["severity"], "msg": "x"}])
    assert refusal_errors(exc) == {"severity": "Severity: unknown severity 'X'; allowed: LOW, HIGH"}
    blank = ValidationFailed("unknown severity ''; allowed: LOW, HIGH", errors=[{"loc": ["severity"], "msg": "x"}])
    assert refusal_errors(blank) == {"severity": "Severity: choose one"}
    assert refusal_errors(ValidationFailed("nothing to do")) == {GENERAL: "Nothing to do"}
