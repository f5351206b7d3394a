"""The base of every config section: unknown keys refused, finite floats, no NUL bytes, no booleans
where numbers belong."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

__all__ = ["Section"]


class Section(BaseModel):
    # validate_assignment: `cfg.train.lr = -1` in code fails as loudly as in a file.
    # allow_inf_nan=False: every float of the config is finite (`lr: .inf` is a config error at
    # validation, not a diverged run after it).
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("nul_byte", "a NUL byte is not allowed here")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads `hidden_size: true` as 1; a YAML boolean where a number
        # belongs is a mistake, so refuse it with the same error as any other non-number.
        if isinstance(value, bool) and not _accepts_bool(cls.model_fields[info.field_name].annotation):
            raise PydanticCustomError("bool_not_number", "expected a number")
        return value


def _accepts_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_accepts_bool(a) for a in typing.get_args(annotation))
    return False
