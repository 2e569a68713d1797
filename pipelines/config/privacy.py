"""The privacy section: columns pseudonymised or dropped at ingestion, columns shown as counts only, the
pseudonym key's source, and the quasi-identifiers whose k-anonymity is measured."""
from __future__ import annotations

from typing import Optional

from pydantic import Field, field_validator, model_validator

from pipelines.config.base import _Strict
from pipelines.shared import pseudonyms

# Without min_k, the report still shows the share of rows in groups smaller than this (a common rule of thumb).
DEFAULT_SMALL_GROUP = 5


class PrivacyConfig(_Strict):
    pseudonymize: list[str] = Field(
        default_factory=list, description="columns whose every value is replaced, inside ExampleGen, by a keyed "
                                          "HMAC-SHA256 pseudonym (the same in every span and in `mlops predict`)")
    drop: list[str] = Field(default_factory=list, description="columns removed inside ExampleGen: no file holds them")
    personal: list[str] = Field(
        default_factory=list, description="columns kept for training whose values are never shown: statistics, "
                                          "the report, the summary and request logs give counts and shares only")
    key_env: str = Field(pseudonyms.DEFAULT_KEY_ENV, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                         description="the environment variable holding the pseudonym key (never the key itself)")
    key_file: Optional[str] = Field(None, description="a file holding the key instead (relative to this config)")
    quasi_identifiers: list[str] = Field(
        default_factory=list, description="columns that together could single a person out (e.g. age, postcode, "
                                          "sex): the smallest group of rows sharing their values (k) is measured "
                                          "at ingestion and shown in the report")
    min_k: Optional[int] = Field(None, ge=2, description="the smallest k accepted: a smaller group stops the run "
                                                         "before training (null: measured and shown only)")

    @field_validator("key_env")
    @classmethod
    def _a_name_not_a_key(cls, name: str) -> str:
        # A key pasted here by mistake would be echoed by every message that names the variable.
        if pseudonyms.looks_like_a_key(name):
            raise ValueError("this looks like a key, not the name of the environment variable holding one (it is not "
                             f"shown): put the key in ${pseudonyms.DEFAULT_KEY_ENV} and name that variable here")
        return name

    @model_validator(mode="after")
    def _each_column_once(self) -> "PrivacyConfig":
        seen: dict[str, str] = {}
        for field in ("pseudonymize", "drop", "personal"):
            for column in getattr(self, field):
                if column in seen:
                    raise ValueError(f"{field}: {column!r} is also in {seen[column]}; a column is pseudonymised, "
                                     "dropped or personal, one of them")
                seen[column] = field
        dropped = sorted(set(self.drop) & set(self.quasi_identifiers))
        if dropped:
            raise ValueError(f"quasi_identifiers: {dropped} are dropped at ingestion, so cannot be measured")
        if self.min_k is not None and not self.quasi_identifiers:
            raise ValueError("min_k: needs quasi_identifiers, the columns whose groups it bounds")
        return self

    @property
    def hidden(self) -> set[str]:
        """Columns whose values are never shown: the personal ones and the pseudonymised ones."""
        return set(self.personal) | set(self.pseudonymize)

    @property
    def configured(self) -> bool:
        return bool(self.pseudonymize or self.drop or self.personal or self.quasi_identifiers)

    @property
    def small_group(self) -> int:
        return self.min_k or DEFAULT_SMALL_GROUP
