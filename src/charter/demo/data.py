"""Demo content (extended as modules land)."""

from __future__ import annotations

from charter.access.schemas import UserCreate
from charter.access.service import _create_user
from charter.context import Ctx
from charter.demo.story import extend_demo
from charter.inventory import service as inventory
from charter.inventory.schemas import SystemCreate, Transition
from charter.kit.clock import Clock, FixedClock

DEMO_PASSWORD = "charter-demo-password"


def seed(ctx: Ctx, clock: FixedClock, real: Clock) -> list[str]:
    """Seed the demo; `clock` (ctx's backdated clock) moves forward as the story unfolds and ends at `real` now."""
    for username, role, name in (
        ("grace", "governance", "Grace Hopper (risk officer)"),
        ("alan", "approver", "Alan Turing (ethics board)"),
        ("ada", "engineer", "Ada Lovelace (ML engineer)"),
        ("audrey", "auditor", "Audrey Auditor"),
    ):
        _create_user(
            ctx,
            UserCreate(
                username=username,
                role=role,
                password=DEMO_PASSWORD,
                display_name=name,
            ),
        )
    inventory.create_system(
        ctx,
        SystemCreate(
            key="support-chatbot",
            name="Customer Support Chatbot",
            deployment_type="vendor_api",
            vendor_name="Example LLM Inc.",
            owner="ada",
            data_categories=["personal"],
            description="Answers customer questions on the support site.",
            problem_statement="Support queues exceed 48 hours at peak.",
            risk_tier="limited",
            risk_tier_reason="interacts with natural persons (transparency obligations)",
            tags=["genai", "support"],
            users_affected=120_000,
        ),
    )
    # support-chatbot reaches production the honest way: its releases pass the gates (charter.demo.releases),
    # and deploying a release moves the system's lifecycle stage along.
    inventory.create_system(
        ctx,
        SystemCreate(
            key="claims-triage",
            name="Insurance Claims Triage",
            deployment_type="in_house_model",
            owner="ada",
            data_categories=["personal", "health"],
            risk_tier="high",
            risk_tier_reason="decides access to essential private services (Annex III)",
            tags=["ml"],
        ),
    )
    doc = inventory.create_system(
        ctx,
        SystemCreate(
            key="contract-summariser",
            name="Contract Summariser",
            deployment_type="vendor_saas",
            vendor_name="DocAI",
            owner="ada",
            data_categories=["confidential_business"],
            tags=["genai"],
        ),
    )
    inventory.transition_system(ctx, doc.key, Transition(to="sandbox", version=doc.version))
    notes = [f"demo: seeded users grace/alan/ada/audrey (password '{DEMO_PASSWORD}') and 3 systems"]
    # Risks, a release history, a day of metrics with a firing alert, an open incident, a review in progress.

    return notes + extend_demo(ctx, clock, real)
