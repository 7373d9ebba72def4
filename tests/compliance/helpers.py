"""Shared test setup: shipped content installed, a system, an organisation catalog with two requirements."""

from __future__ import annotations

import textwrap

from charter.compliance import service
from charter.compliance.schemas import CatalogIn, MappingIn
from charter.context import Ctx, install_shipped
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system

ACME = textwrap.dedent("""\
    id: acme-ai-policy
    title: ACME AI policy
    version: "2026.1"
    publisher: ACME Corp.
    source: {origin: ACME policy handbook}
    licence: {name: Internal}
    attribution: ACME Corp.
    requirements:
      - {id: P1, title: Governance, kind: category, assessable: false}
      - {id: P1.1, title: Roles are clear, parent: P1, kind: requirement, assessable: true}
      - {id: P1.2, title: Prohibited systems never ship, parent: P1, kind: requirement, assessable: true}
      - {id: P1.3, title: Nothing maps here, parent: P1, kind: requirement, assessable: true}
    """)


def setup_acme(ctx: Ctx, key: str = "chatbot") -> AISystem:
    install_shipped(ctx)
    system = create_system(ctx, SystemCreate(key=key, name="Chatbot", deployment_type="in_house_model",
                                             risk_tier="high", risk_tier_reason="Annex III 5(b)"))  # fmt: skip
    service.install_catalog(ctx, CatalogIn(filename="acme.yaml", content=ACME))
    service.set_mapping(
        ctx,
        MappingIn(
            control="sop:ethical-review/roles-clear",
            requirement="acme-ai-policy:P1.1",
            relation="satisfies",
            reason="The review asks who is accountable.",
        ),
    )
    service.set_mapping(ctx, MappingIn(control="gate:to-production/not-prohibited",
                                       requirement="acme-ai-policy:P1.2", relation="satisfies",
                                       reason="The production gate refuses prohibited systems."))  # fmt: skip
    return system
