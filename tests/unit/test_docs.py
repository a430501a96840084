"""The README and the data-contract document stay true to the code."""

from __future__ import annotations

from pathlib import Path

from augur.common.settings import (
    ChurnSettings,
    ContactSettings,
    GatewaySettings,
    OutreachSettings,
    RecommendSettings,
    settings_table,
)
from augur.training.data.schema import TABLES

ROOT = Path(__file__).resolve().parents[2]


def test_readme_opens_with_the_two_commands_and_lists_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[:1200]
    assert "make demo" in head and "make test" in head
    for variable, _, _ in (
        settings_table(ChurnSettings)
        + settings_table(RecommendSettings)
        + settings_table(ContactSettings)
        + settings_table(OutreachSettings)
        + settings_table(GatewaySettings)
    ):
        assert f"`{variable}`" in readme, f"{variable} missing from the README table"


def test_data_contract_documents_every_column() -> None:
    doc = (ROOT / "docs" / "data-contract.md").read_text()
    for table in TABLES.values():
        assert f"## {table.name}" in doc
        for column in table.columns:
            assert f"`{column.name}`" in doc, f"{table.name}.{column.name} undocumented"
