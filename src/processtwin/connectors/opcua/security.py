"""OPC UA security for the client connector and the simulated plant server.

A client connects with a security policy (``Basic256Sha256`` and the newer
``Aes128Sha256RsaOaep``/``Aes256Sha256RsaPss``) in ``Sign`` or ``SignAndEncrypt`` mode, with
its application instance certificate and private key; optionally it logs in with a user name
and a password taken from an environment variable (named in the config, never the password
itself; it is never logged or put into an error). :func:`make_certificate` writes a
self-signed application certificate (DER) and key (PEM) with asyncua's helpers, for tests and
for ``ptwin`` setups that have no PKI yet.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asyncua import Client, ua
from asyncua.crypto import cert_gen, security_policies
from cryptography.x509.oid import ExtendedKeyUsageOID

from processtwin.errors import ConfigError, ConfigProblem

__all__ = ["AUTH_REFUSED", "ClientSecurity", "Policy", "SecurityMode", "apply_client_security",
           "make_certificate"]

Policy = Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]

#: Status codes that mean "the server does not accept who you are".
AUTH_REFUSED = frozenset({
    ua.StatusCodes.BadUserAccessDenied, ua.StatusCodes.BadIdentityTokenRejected,
    ua.StatusCodes.BadIdentityTokenInvalid, ua.StatusCodes.BadCertificateUntrusted,
    ua.StatusCodes.BadCertificateInvalid, ua.StatusCodes.BadSecurityChecksFailed,
    ua.StatusCodes.BadSecurityPolicyRejected, ua.StatusCodes.BadSecurityModeRejected,
})


def _error(path: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(path, f"OPC UA: {message}")])


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSecurity:
    """How a client proves itself and protects its channel."""

    policy: Policy = "None"
    mode: SecurityMode = "None"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None
    application_uri: str = "urn:processtwin:client"
    username: str | None = None
    password_env: str | None = None
    #: the password itself, when resolved already (never shown in a repr)
    password_value: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems = []
        if (self.policy == "None") != (self.mode == "None"):
            problems.append("security policy and mode must both be None or both be set")
        if self.policy != "None" and (self.certificate is None or self.private_key is None):
            problems.append(f"policy {self.policy} needs a client certificate and private key")
        if (self.password_env or self.password_value) and not self.username:
            problems.append("a password given without a username")
        if problems:
            raise ConfigError([ConfigProblem("security", p) for p in problems])

    def password(self) -> str | None:
        """The password from the environment (``ConfigError`` naming the variable if unset)."""
        if self.password_value is not None:
            return self.password_value
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise _error("security.password_env", f"environment variable {self.password_env} "
                         "(the OPC UA password) is not set")
        return value


async def apply_client_security(client: Client, sec: ClientSecurity) -> None:
    """Configure ``client`` before ``connect()``; file problems are ``ConfigError``."""
    client.application_uri = sec.application_uri
    if sec.username:
        client.set_user(sec.username)
        pwd = sec.password()
        if pwd is not None:
            client.set_password(pwd)
    if sec.policy == "None":
        return
    if sec.certificate is None or sec.private_key is None:
        raise _error("security", f"policy {sec.policy} needs a client certificate and key")
    for p in (sec.certificate, sec.private_key, sec.server_certificate):
        if p is not None and not p.is_file():
            raise _error("security", f"no such file {p}")
    policy = getattr(security_policies, f"SecurityPolicy{sec.policy}")
    try:
        await client.set_security(
            policy, str(sec.certificate), str(sec.private_key),
            server_certificate=str(sec.server_certificate) if sec.server_certificate else None,
            mode=getattr(ua.MessageSecurityMode, sec.mode))
    except ValueError as exc:
        raise _error("security", f"cannot load certificate or key: {exc}") from exc


async def make_certificate(cert_path: Path, key_path: Path, application_uri: str, *,
                           host: str | None = None) -> tuple[Path, Path]:
    """Write a self-signed application certificate (DER) and RSA key (PEM) if missing.

    The certificate names ``application_uri`` and ``host`` (default: this machine) and may
    be used by a client and by a server.
    """
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    await cert_gen.setup_self_signed_certificate(
        key_path, cert_path, application_uri, host or socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH], {})
    return cert_path, key_path
