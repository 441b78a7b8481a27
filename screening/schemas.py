"""Request schemas of the API (pydantic): what validates a request also documents it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .listfile import COUNTRY_PATTERN, PARTIAL_DATE_PATTERN


# What the spec promises is accepted (screening.api.guard refuses NUL in any text; a name must not be blank).
STORABLE_TEXT = r"^[^\u0000]*$"
NAME_TEXT = r"^[^\u0000]*\S[^\u0000]*$"


class ScreenQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The name to screen, 1-500 characters after trimming.",
                      json_schema_extra={"minLength": 1, "pattern": NAME_TEXT})
    type: Literal["person", "organization", "any"] = "any"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    limit: int = Field(default=10, ge=1, le=100)
    birth_date: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    country: str | None = Field(default=None, pattern=COUNTRY_PATTERN)
    reference: str | None = Field(default=None, max_length=200, json_schema_extra={"pattern": STORABLE_TEXT})

    @field_validator("threshold", "limit", mode="before")
    @classmethod
    def _number_not_boolean(cls, value: object) -> object:
        # JSON true is not 1: a client that sends a boolean has confused two fields.
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return value

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        if len(value) > 500:
            raise ValueError("must be at most 500 characters")
        return value


class BatchQuery(ScreenQuery):
    id: str = Field(min_length=1, max_length=200, json_schema_extra={"pattern": STORABLE_TEXT})


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[BatchQuery] = Field(min_length=1)
