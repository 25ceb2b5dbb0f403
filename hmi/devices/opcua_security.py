"""OPC UA secure channels and user logins for the worker and the browse command.

The server's certificate is checked against our trust list *before* a secure channel
is opened with it: asyncua would otherwise accept whatever the endpoint list offers.
An untrusted certificate is saved to rejected/ and the connection refused with the
command that trusts it. Passwords come from ``password_provider`` (secret name ->
password), which the composition root wires to the OS keyring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError

from hmi.core.site import OpcUaSecurity, SecurityMode, SecurityPolicy
from hmi.devices.connection import CommError
from hmi.devices.opcua_pki import CLIENT_APPLICATION_URI, PkiStore, first_certificate, thumbprint

PasswordProvider = Callable[[str], str]

POLICY_CLASSES: dict[SecurityPolicy, type[security_policies.SecurityPolicy]] = {
    SecurityPolicy.NONE: security_policies.SecurityPolicyNone,
    SecurityPolicy.BASIC256SHA256: security_policies.SecurityPolicyBasic256Sha256,
    SecurityPolicy.AES128_SHA256_RSAOAEP: security_policies.SecurityPolicyAes128Sha256RsaOaep,
}
MESSAGE_MODES = {
    SecurityMode.NONE: ua.MessageSecurityMode.None_,
    SecurityMode.SIGN: ua.MessageSecurityMode.Sign,
    SecurityMode.SIGN_AND_ENCRYPT: ua.MessageSecurityMode.SignAndEncrypt,
}
_LOGIN_REFUSED = {
    StatusCodes.BadUserAccessDenied,
    StatusCodes.BadIdentityTokenRejected,
    StatusCodes.BadIdentityTokenInvalid,
}


class UntrustedServerCertificateError(CommError):
    """The server's certificate is not in trusted/; it has been saved to rejected/."""

    def __init__(self, url: str, thumbprint_text: str, saved_to: Path) -> None:
        super().__init__(
            f"server certificate of {url} (thumbprint {thumbprint_text}) is not trusted: "
            f"run `hmi certs trust {thumbprint_text}`"
        )
        self.thumbprint = thumbprint_text
        self.saved_to = saved_to


def _policy_name(uri: str) -> str:
    return uri.rpartition("#")[2] or uri


def _mode_name(mode: ua.MessageSecurityMode) -> str:
    return "None" if mode is ua.MessageSecurityMode.None_ else mode.name


def offered(endpoints: list[ua.EndpointDescription]) -> str:
    """What a server offers, e.g. "None/None, Basic256Sha256/SignAndEncrypt"."""
    labels = {
        f"{_policy_name(ep.SecurityPolicyUri)}/{_mode_name(ep.SecurityMode)}" for ep in endpoints
    }
    return ", ".join(sorted(labels)) or "nothing"


async def configure(
    client: Client,
    security: OpcUaSecurity,
    *,
    pki_dir: Path | None,
    password_provider: PasswordProvider | None,
    request_timeout: float,
) -> None:
    """Set up ``client`` (not yet connected) for the policy, mode and user in ``security``."""
    client.application_uri = CLIENT_APPLICATION_URI
    client.name = client.description = "HMI"
    url = client.server_url.geturl()
    if security.policy is not SecurityPolicy.NONE:
        await _secure_channel(client, url, security, pki_dir, request_timeout)
    if security.username:
        password = await _password(security, password_provider)
        client.set_user(security.username)
        client.set_password(password)


async def _secure_channel(
    client: Client, url: str, security: OpcUaSecurity, pki_dir: Path | None, request_timeout: float
) -> None:
    label = f"{security.policy.value} {security.mode.value}"
    if pki_dir is None:
        raise CommError(f"config: security {label} needs a certificate folder (pki_dir)")
    store = PkiStore(pki_dir)
    cert_path, key_path = await asyncio.to_thread(store.client_certificate)
    limit = request_timeout * 2
    try:
        endpoints = await asyncio.wait_for(client.connect_and_get_server_endpoints(), limit)
    except TimeoutError:
        raise CommError(f"no answer from {url} within {limit:g} s") from None
    policy = POLICY_CLASSES[security.policy]
    mode = MESSAGE_MODES[security.mode]
    matching = [
        ep for ep in endpoints if ep.SecurityPolicyUri == policy.URI and ep.SecurityMode == mode
    ]
    if not matching:
        raise CommError(f"{url} does not offer security {label}; it offers {offered(endpoints)}")
    der = first_certificate(matching[0].ServerCertificate or b"")
    if not der:
        raise CommError(f"{url} offers security {label} but sends no server certificate")
    if not await asyncio.to_thread(store.is_trusted, der):
        saved = await asyncio.to_thread(store.reject, der)
        raise UntrustedServerCertificateError(url, thumbprint(der), saved)
    # With the trusted certificate given, asyncua opens the channel with exactly it and
    # fails CreateSession ("Server certificate mismatch") if the server sends another.
    await client.set_security(policy, cert_path, key_path, server_certificate=der, mode=mode)


async def _password(security: OpcUaSecurity, provider: PasswordProvider | None) -> str:
    where = f"keyring entry '{security.password_secret}'"
    if provider is None:
        raise CommError(
            f"config: OPC UA user '{security.username}' needs a password provider for the {where}"
        )
    try:
        password = await asyncio.to_thread(provider, security.password_secret)
    except Exception as exc:
        raise CommError(
            f"password of OPC UA user '{security.username}' ({where}) not available: {exc}"
        ) from exc
    if not password:
        raise CommError(f"password of OPC UA user '{security.username}' ({where}) is empty")
    return password


def login_refusal(exc: BaseException, security: OpcUaSecurity) -> str | None:
    """The operator's message when ``exc`` is the server refusing the user, else None."""
    code = getattr(exc, "code", None)
    if not isinstance(exc, UaStatusCodeError) or code not in _LOGIN_REFUSED:
        return None
    name = ua.StatusCode(code).name
    if security.username:
        return (
            f"OPC UA server refused user '{security.username}': {name} — check the username "
            f"and the keyring entry '{security.password_secret}'"
        )
    return (
        f"OPC UA server refused an anonymous login: {name} — set username and "
        "password_secret for this device"
    )
