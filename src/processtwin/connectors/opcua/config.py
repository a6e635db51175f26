"""twin.yaml settings of an OPC UA source that go beyond the basics: deadband and security.

Example (under a source with ``kind: opcua``)::

    deadband: {kind: absolute, value: 0.1}
    timestamps: source
    security:
      policy: Basic256Sha256
      mode: SignAndEncrypt
      certificate: pki/client.der
      private_key: pki/client.pem
      username: operator
      password_env: PLANT_OPCUA_PASSWORD
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from processtwin.connectors.opcua.connector import Deadband
from processtwin.connectors.opcua.security import ClientSecurity, Policy, SecurityMode
from processtwin.errors import ConfigError, ConfigProblem

__all__ = ["OpcUaDeadbandConfig", "OpcUaSecurityConfig"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpcUaDeadbandConfig(_Frozen):
    """``absolute`` in the value's unit, or ``percent`` of the node's EURange."""

    kind: Literal["absolute", "percent"]
    value: float = Field(ge=0)

    @model_validator(mode="after")
    def _percent(self) -> Self:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent deadband is at most 100")
        return self

    def deadband(self) -> Deadband:
        return Deadband(kind=self.kind, value=self.value)


class OpcUaSecurityConfig(_Frozen):
    """Security policy and mode, client certificate and key, user and password variable."""

    policy: Policy = "None"
    mode: SecurityMode = "None"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None
    application_uri: str = "urn:processtwin:client"
    username: str | None = None
    password_env: str | None = Field(default=None, description="environment variable with "
                                     "the password (the password never goes into the file)")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError("policy and mode must both be None or both be set")
        if self.policy != "None" and not (self.certificate and self.private_key):
            raise ValueError(f"policy {self.policy} needs certificate and private_key")
        if self.password_env and not self.username:
            raise ValueError("password_env given without a username")
        return self

    def client_security(self, *, base_dir: str | Path = ".", where: str = "security",
                        env: Mapping[str, str] | None = None) -> ClientSecurity:
        """The connector's security; relative paths are taken from ``base_dir``."""

        def path(p: str | None) -> Path | None:
            return None if p is None else Path(base_dir) / p

        password = None
        if self.password_env:
            password = (env if env is not None else _environ()).get(self.password_env)
            if password is None:
                raise ConfigError([ConfigProblem(
                    f"{where}.password_env",
                    f"environment variable {self.password_env} is not set")])
        return ClientSecurity(policy=self.policy, mode=self.mode,
                              certificate=path(self.certificate),
                              private_key=path(self.private_key),
                              server_certificate=path(self.server_certificate),
                              application_uri=self.application_uri, username=self.username,
                              password_env=self.password_env, password_value=password)


def _environ() -> Mapping[str, str]:
    import os

    return os.environ
