"""EU AI Act obligations by Charter risk tier and role: OUR OWN ANALYSIS of the Act's structure, not EUR-Lex text.

`scripts/build_catalogs.py` writes this table into `content/frameworks/eu-ai-act.yaml` as each entry's
`applicability` (tiers, roles, reason); only the entries listed here are assessable. The other articles
(definitions, authorities, general-purpose AI models, amendments, …) are context: Charter's tiers classify AI
systems, not general-purpose AI models, and importers/distributors are not roles Charter tracks.
This is an engineering reading of the Regulation to drive coverage, not legal advice.
"""

from __future__ import annotations

from typing import Final

Obligation = tuple[tuple[str, ...], tuple[str, ...], str]  # (tiers, roles, one-line reason)

ALL_TIERS: Final = ("prohibited", "high", "limited", "minimal", "unclassified")
BOTH: Final = ("provider", "deployer")
HIGH: Final = ("high",)
PROVIDER: Final = ("provider",)
DEPLOYER: Final = ("deployer",)

OBLIGATIONS: Final[dict[str, Obligation]] = {
    "Art. 4": (
        ALL_TIERS,
        BOTH,
        "Providers and deployers of any AI system ensure sufficient AI literacy of the people who operate or use it.",
    ),
    "Art. 5": (
        ALL_TIERS,
        BOTH,
        "The prohibitions bind every operator: each system is screened against them, and a prohibited "
        "practice is never placed on the market, put into service or used.",
    ),
    "Art. 6": (
        ("high", "limited", "minimal", "unclassified"),
        BOTH,
        "Classification decides which obligations follow; a provider that finds an Annex III system not "
        "high-risk documents that assessment (Art. 6(4)).",
    ),
    "Art. 8": (
        HIGH,
        PROVIDER,
        "High-risk systems comply with the Section 2 requirements, which the provider ensures (Art. 16(a)).",
    ),
    "Art. 9": (
        HIGH,
        PROVIDER,
        "A risk management system over the whole lifecycle is a Section 2 requirement the provider puts in place.",
    ),
    "Art. 10": (
        HIGH,
        PROVIDER,
        "Training, validation and test data of a high-risk system meet the data-governance criteria; the "
        "provider develops the system.",
    ),
    "Art. 11": (
        HIGH,
        PROVIDER,
        "The provider draws up the technical documentation (Annex IV) before a high-risk system is placed on "
        "the market.",
    ),
    "Art. 12": (
        HIGH,
        PROVIDER,
        "The provider builds automatic event logging into the high-risk system (deployers keep the logs, Art. 26(6)).",
    ),
    "Art. 13": (
        HIGH,
        PROVIDER,
        "The provider makes the high-risk system transparent to deployers and supplies instructions for use.",
    ),
    "Art. 14": (
        HIGH,
        PROVIDER,
        "The provider designs the high-risk system for effective human oversight (deployers assign the "
        "overseers, Art. 26(2)).",
    ),
    "Art. 15": (
        HIGH,
        PROVIDER,
        "The provider designs the high-risk system for appropriate accuracy, robustness and cybersecurity, "
        "and declares its accuracy.",
    ),
    "Art. 16": (HIGH, PROVIDER, "The list of obligations of providers of high-risk systems."),
    "Art. 17": (HIGH, PROVIDER, "Providers of high-risk systems run a documented quality management system."),
    "Art. 18": (
        HIGH,
        PROVIDER,
        "Providers keep the technical and quality-management documentation for ten years after placing on the market.",
    ),
    "Art. 19": (
        HIGH,
        PROVIDER,
        "Providers keep the logs their high-risk systems generate, where under their control, for at least six months.",
    ),
    "Art. 20": (
        HIGH,
        PROVIDER,
        "Providers correct, withdraw or recall non-conforming high-risk systems and inform deployers and authorities.",
    ),
    "Art. 21": (
        HIGH,
        PROVIDER,
        "Providers give competent authorities the information and documentation they request, logs included.",
    ),
    "Art. 22": (
        HIGH,
        PROVIDER,
        "Providers established outside the Union appoint an authorised representative in the Union.",
    ),
    "Art. 26": (
        HIGH,
        DEPLOYER,
        "Deployers use high-risk systems per the instructions, assign human oversight, monitor operation, "
        "keep logs and inform affected people.",
    ),
    "Art. 27": (
        HIGH,
        DEPLOYER,
        "Public-law bodies, private providers of public services and Annex III 5(b)/(c) deployers assess "
        "fundamental-rights impact before first use.",
    ),
    "Art. 43": (
        HIGH,
        PROVIDER,
        "A high-risk system passes a conformity assessment before it is placed on the market or put into service.",
    ),
    "Art. 47": (HIGH, PROVIDER, "The provider draws up the EU declaration of conformity (content in Annex V)."),
    "Art. 48": (HIGH, PROVIDER, "The provider affixes the CE marking to the high-risk system."),
    "Art. 49": (
        HIGH,
        BOTH,
        "Providers register Annex III high-risk systems in the EU database; deployers that are public "
        "authorities register their use (Art. 49(3)).",
    ),
    "Art. 50": (
        ("high", "limited"),
        BOTH,
        "Transparency duties follow the kind of system: interacting with people or generating content "
        "(providers), emotion recognition or deep fakes (deployers); high-risk systems of those kinds too.",
    ),
    "Art. 72": (HIGH, PROVIDER, "Providers of high-risk systems run post-market monitoring under a documented plan."),
    "Art. 73": (
        HIGH,
        BOTH,
        "Providers report serious incidents within fixed deadlines; deployers that identify one inform the "
        "provider and authorities (Art. 26(5)) and report if the provider cannot be reached.",
    ),
    "Art. 86": (
        HIGH,
        DEPLOYER,
        "A person affected by a decision based on an Annex III high-risk system's output may obtain an "
        "explanation from the deployer.",
    ),
    "Annex IV": (
        HIGH,
        PROVIDER,
        "The content of the technical documentation the provider of a high-risk system draws up under Art. 11(1).",
    ),
}
