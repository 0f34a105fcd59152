"""The OpenAPI schema of our own signal format is made from the validator's table of fields, so it
says what the validator that runs accepts (it had drifted: no ``message_id``, no ``id``, no limits on
the domain and the e-mail)."""

from __future__ import annotations

import pytest
import yaml

from signals.generic.format import FIELDS, KINDS, parse_generic_item
from signals.segment.dialect import EventError

pytestmark = pytest.mark.django_db

VALID = {"kind": "custom", "occurred_at": "2026-11-26T10:00:00Z", "account_domain": "acme.com"}


@pytest.fixture
def components(client) -> dict:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)["components"]["schemas"]


@pytest.fixture
def schema(components) -> dict:
    return components["GenericSignal"]


def test_the_schema_names_every_field_the_validator_reads_and_no_other(schema, components):
    assert set(schema["properties"]) == {spec.name for spec in FIELDS}
    assert {"message_id", "id"} <= set(schema["properties"])
    assert set(schema["required"]) == {spec.name for spec in FIELDS if spec.required} == {"kind", "occurred_at"}
    kind = schema["properties"]["kind"]
    enum = kind.get("enum") or components[(kind.get("$ref") or kind["allOf"][0]["$ref"]).rsplit("/", 1)[1]]["enum"]
    assert set(enum) == KINDS


@pytest.mark.parametrize("spec", [spec for spec in FIELDS if spec.max_length], ids=lambda spec: spec.name)
def test_each_length_the_schema_states_is_the_one_the_validator_enforces(schema, spec):
    assert schema["properties"][spec.name]["maxLength"] == spec.max_length
    short_enough = {"contact_email": "a@acme.com", "account_domain": "acme.com"}.get(spec.name, "x")
    parse_generic_item({**VALID, spec.name: short_enough}, webhook_id="w", index=None)
    too_long = "x" * (spec.max_length + 1)
    with pytest.raises(EventError) as refused:
        parse_generic_item({**VALID, spec.name: too_long}, webhook_id="w", index=None)
    assert list(refused.value.fields) == [spec.name]


@pytest.mark.parametrize("spec", [spec for spec in FIELDS if spec.required], ids=lambda spec: spec.name)
def test_each_field_the_schema_requires_the_validator_requires(spec):
    with pytest.raises(EventError) as refused:
        parse_generic_item({k: v for k, v in VALID.items() if k != spec.name}, webhook_id="w", index=None)
    assert refused.value.code == "missing_field" and list(refused.value.fields) == [spec.name]


def test_the_validator_returns_the_fields_of_the_table():
    item = parse_generic_item({**VALID, "id": "own-1", "message_id": " <m@acme.com> "}, webhook_id="w", index=None)
    assert set(item) == {spec.name for spec in FIELDS} - {"id"}
    assert (item["external_id"], item["message_id"]) == ("own-1", "<m@acme.com>")
