"""A loopback OAuth 2.0 authorization server for the tests: a PROTOCOL-LEVEL TEST FIXTURE,
NOT Microsoft's or Google's identity service.

Nothing may reach the internet from the tests, so collabd's token libraries (msal and
google-auth, unchanged) are pointed at this server instead, over HTTPS on 127.0.0.1 with a
certificate of its own (collabd is given its CA with mail.oauth.ca_file). It answers with
bodies shaped like the providers' documented responses:

- Microsoft identity platform (v2.0): the OpenID configuration document
  (`/{tenant}/v2.0/.well-known/openid-configuration`), the token endpoint
  (`/{tenant}/oauth2/v2.0/token`) for the client credentials, refresh token and device code
  grants, and the device authorization endpoint (`/{tenant}/oauth2/v2.0/devicecode`);
  errors as `{"error", "error_description": "AADSTS…", "error_codes", …}`.
- Google's token endpoint (`/google/token`): the JWT bearer grant of a service account
  (signature checked against its public key, the subject must be a delegated mailbox) and
  the refresh token grant of an installed app; errors as `{"error", "error_description"}`.

The tokens it issues are checked by the test mail stack's Dovecot (and through Dovecot's
SASL, Postfix) at the RFC 7662 introspection endpoint, served over plain HTTP on the
stack's fixed per-slot port (`MailStack.introspection_port`): a token is active while it
is known, unexpired and not revoked, and names the mailbox it was issued for.

Tests steer it: `register_app`, `register_service_account`, `issue_refresh_token`,
`device_sign_in_as`, `lifetime` (of the next tokens), `expire_all()`, `revoke()`; and read
what happened in `token_requests` and `introspected`.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TENANT = "5f1c1b2a-0c4e-4c3b-9d55-3f4f1fd2a001"
EXCHANGE_APP_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Issued:
    username: str
    expires_at: float
    scope: str
    revoked: bool = False


@dataclass
class RegisteredApp:
    secret: str
    mailbox: str  # the one mailbox its service principal was given permission on
    scope: str = EXCHANGE_APP_SCOPE


@dataclass
class DeviceLogin:
    client_id: str
    scope: str
    polls: int = 0


@dataclass
class IdentityServer:
    introspection_port: int
    workdir: Path
    lifetime: int = 3599  # seconds, as Entra's and Google's tokens (one hour less a second)
    tokens: dict[str, Issued] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> client, user
    apps: dict[str, RegisteredApp] = field(default_factory=dict)
    installed_apps: dict[str, str] = field(default_factory=dict)  # Google client id -> secret
    service_accounts: dict[str, tuple[object, set[str]]] = field(default_factory=dict)
    devices: dict[str, DeviceLogin] = field(default_factory=dict)
    device_sign_in_as: str = ""  # who types the code on the device page
    token_requests: list[dict] = field(default_factory=list)
    introspected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.workdir / "identity-ca.pem"
        context = _tls_context(self.workdir, self.ca_file)
        self._https = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, "token"))
        self._https.socket = context.wrap_socket(self._https.socket, server_side=True)
        self._http = ThreadingHTTPServer(
            ("127.0.0.1", self.introspection_port), _handler(self, "introspection")
        )
        self.port = self._https.server_address[1]
        self._threads = [
            threading.Thread(target=server.serve_forever, daemon=True)
            for server in (self._https, self._http)
        ]

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> IdentityServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self._https, self._http):
            server.shutdown()
            server.server_close()

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def authority(self) -> str:
        """What mail.oauth.authority names for the Microsoft flows."""
        return f"{self.base}/{TENANT}"

    @property
    def google_token_uri(self) -> str:
        return f"{self.base}/google/token"

    # --- what tests set up -----------------------------------------------------------------
    def register_app(self, mailbox: str, scope: str = EXCHANGE_APP_SCOPE) -> tuple[str, str]:
        """An app registration whose service principal may open `mailbox`: (id, secret)."""
        client_id, secret = str(uuid.uuid4()), "Qx8~" + secrets.token_urlsafe(24)
        self.apps[client_id] = RegisteredApp(secret, mailbox.lower(), scope)
        return client_id, secret

    def register_public_app(self) -> str:
        client_id = str(uuid.uuid4())
        self.apps[client_id] = RegisteredApp("", "", "")
        return client_id

    def register_installed_app(self) -> tuple[str, str]:
        client_id = f"{secrets.randbelow(10**12)}-test.apps.googleusercontent.com"
        self.installed_apps[client_id] = "GOCSPX-" + secrets.token_urlsafe(20)
        return client_id, self.installed_apps[client_id]

    def register_service_account(self, delegated: set[str]) -> Path:
        """A service account key file (as Google's console downloads it) whose client has
        domain-wide delegation for the mailboxes in `delegated`."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"collabd-{secrets.token_hex(3)}@collabd-test.iam.gserviceaccount.com"
        self.service_accounts[email] = (key.public_key(), {m.lower() for m in delegated})
        path = self.workdir / f"{email.split('@')[0]}.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "collabd-test",
                    "private_key_id": secrets.token_hex(20),
                    "private_key": key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ).decode(),
                    "client_email": email,
                    "client_id": str(secrets.randbelow(10**20)),
                    "token_uri": self.google_token_uri,
                }
            )
        )
        return path

    def issue_refresh_token(self, client_id: str, username: str) -> str:
        token = "1//0g" + secrets.token_urlsafe(32)
        self.refresh_tokens[token] = (client_id, username.lower())
        return token

    def issue(self, username: str, lifetime: int | None = None, scope: str = "") -> str:
        """An access token as the token endpoint would issue it."""
        token = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(32)
        expires = time.time() + (self.lifetime if lifetime is None else lifetime)
        with self._lock:
            self.tokens[token] = Issued(username.lower(), expires, scope)
        return token

    def expire_all(self) -> None:
        """Every token issued so far runs out now (the servers refuse them from here on)."""
        with self._lock:
            for issued in self.tokens.values():
                issued.expires_at = min(issued.expires_at, time.time() - 1)

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens[token].revoked = True

    def active(self, token: str) -> Issued | None:
        with self._lock:
            issued = self.tokens.get(token)
            if issued and not issued.revoked and issued.expires_at > time.time():
                return issued
        return None

    def grants(self, grant_type: str, client_id: str = "") -> list[dict]:
        """Token requests of one grant type (of one client, when given)."""
        return [
            r
            for r in self.token_requests
            if r.get("grant_type") == grant_type
            and (not client_id or r.get("client_id") == client_id)
        ]

    # --- the endpoints ---------------------------------------------------------------------
    def openid_configuration(self, tenant: str) -> dict:
        root = f"{self.base}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{root}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "tid"],
            "kerberos_endpoint": f"{root}/kerberos",
            "tenant_region_scope": "AS",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def microsoft_token(self, form: dict[str, str]) -> tuple[int, dict]:
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        app = self.apps.get(client_id)
        if app is None:
            return _aad(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
            )
        if grant == "client_credentials":
            if form.get("client_secret") != app.secret:
                return _aad(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the "
                    "request is the client secret value, not the client secret ID, for a "
                    f"secret added to app '{client_id}'.",
                )
            if form.get("scope") != app.scope:
                return _aad(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {form.get('scope')} is not valid. Client "
                    "credential flows must have a scope value with /.default suffixed to the "
                    "resource identifier (application ID URI).",
                )
            token = self.issue(app.mailbox, scope=app.scope)
            return 200, {
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": token,
            }
        if grant == "refresh_token":
            owner = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if owner is None or owner[0] != client_id:
                return _aad(
                    400,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity. Send a new interactive authorization request for this user "
                    "and resource.",
                )
            return 200, self._delegated_tokens(client_id, owner[1], form.get("scope", ""))
        if grant == DEVICE_CODE:
            login = self.devices.get(form.get("device_code", ""))
            if login is None:
                return _aad(
                    400,
                    "expired_token",
                    70020,
                    "The provided value for the input parameter 'device_code' is not valid.",
                )
            login.polls += 1
            if login.polls == 1 or not self.device_sign_in_as:  # the person is still typing
                return _aad(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            del self.devices[form["device_code"]]
            return 200, self._delegated_tokens(client_id, self.device_sign_in_as, login.scope)
        return _aad(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )

    def _delegated_tokens(self, client_id: str, username: str, scope: str) -> dict:
        granted = " ".join(s for s in scope.split() if s not in ("openid", "profile"))
        answer = {
            "token_type": "Bearer",
            "scope": granted,
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": self.issue(username, scope=granted),
            "refresh_token": self.issue_refresh_token(client_id, username),
        }
        if "openid" in scope.split():  # as Entra: who signed in, for the app to show
            answer["id_token"] = self._id_token(client_id, username)
        return answer

    def _id_token(self, client_id: str, username: str) -> str:
        now = int(time.time())
        claims = {
            "iss": f"{self.base}/{TENANT}/v2.0",
            "aud": client_id,
            "tid": TENANT,
            "sub": secrets.token_urlsafe(16),
            "oid": str(uuid.uuid5(uuid.NAMESPACE_DNS, username)),
            "preferred_username": username,
            "name": username.split("@")[0],
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
        }

        def part(value: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        # Not signed with a key collabd checks: msal reads the claims, as it does of Entra's.
        return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"

    def device_code(self, form: dict[str, str]) -> tuple[int, dict]:
        if form.get("client_id") not in self.apps:
            return _aad(400, "unauthorized_client", 700016, "Application not found.")
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        device_code = secrets.token_urlsafe(40)
        self.devices[device_code] = DeviceLogin(form["client_id"], form.get("scope", ""))
        return 200, {
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": 900,
            "interval": 1,
            "message": "To sign in, use a web browser to open the page "
            f"https://microsoft.com/devicelogin and enter the code {user_code} to "
            "authenticate.",
        }

    def google_token(self, form: dict[str, str]) -> tuple[int, dict]:
        grant = form.get("grant_type", "")
        if grant == JWT_BEARER:
            claims = self._verified_assertion(form.get("assertion", ""))
            if claims is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Invalid JWT Signature.",
                }
            _, delegated = self.service_accounts[claims["iss"]]
            subject = str(claims.get("sub", "")).lower()
            if GOOGLE_MAIL_SCOPE not in str(claims.get("scope", "")).split() or (
                subject not in delegated
            ):
                return 401, {
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens "
                    "using this method, or client not authorized for any of the scopes "
                    "requested.",
                }
            return 200, self._google_access(subject)
        if grant == "refresh_token":
            client_id = form.get("client_id", "")
            owner = self.refresh_tokens.get(form.get("refresh_token", ""))
            if (
                self.installed_apps.get(client_id) != form.get("client_secret")
                or owner is None
                or owner[0] != client_id
            ):
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            return 200, {**self._google_access(owner[1]), "scope": GOOGLE_MAIL_SCOPE}
        return 400, {
            "error": "unsupported_grant_type",
            "error_description": f"Invalid grant_type: {grant}",
        }

    def _google_access(self, username: str) -> dict:
        return {
            "access_token": self.issue(username, scope=GOOGLE_MAIL_SCOPE),
            "expires_in": self.lifetime,
            "token_type": "Bearer",
        }

    def _verified_assertion(self, assertion: str) -> dict | None:
        try:
            header, payload, signature = assertion.split(".")
            claims = json.loads(_unb64(payload))
            public_key, _ = self.service_accounts[claims["iss"]]
            public_key.verify(  # type: ignore[attr-defined]
                _unb64(signature),
                f"{header}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (ValueError, KeyError, InvalidSignature):
            return None
        # google-auth always names Google's token endpoint as the audience, as Google wants.
        audiences = ("https://oauth2.googleapis.com/token", self.google_token_uri)
        if claims.get("aud") not in audiences or claims.get("exp", 0) < time.time():
            return None
        return claims

    def introspect(self, form: dict[str, str]) -> dict:
        """RFC 7662: what Dovecot's oauth2 passdb asks (introspection_mode = post)."""
        token = form.get("token", "")
        self.introspected.append(token)
        issued = self.active(token)
        if issued is None:
            return {"active": False}
        return {
            "active": True,
            "username": issued.username,
            "scope": issued.scope,
            "exp": int(issued.expires_at),
            "token_type": "Bearer",
        }


def _aad(status: int, error: str, code: int, description: str) -> tuple[int, dict]:
    """An error as the Microsoft identity platform words it."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: "
        f"{correlation} Timestamp: {now}",
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def _google_error(error: str, description: str) -> dict:
    return {"error": error, "error_description": description}


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _handler(server: IdentityServer, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: pytest shows failures, not traffic
            pass

        def do_GET(self) -> None:
            path = urlparse(self.path).path.strip("/").split("/")
            if role == "token" and path[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                self._answer(200, server.openid_configuration(path[0]))
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            path = urlparse(self.path).path.strip("/")
            if role == "introspection":
                self._answer(200, server.introspect(form))
                return
            server.token_requests.append({"path": path, **form})
            if path == "google/token":
                self._answer(*server.google_token(form))
            elif path.endswith("oauth2/v2.0/token"):
                self._answer(*server.microsoft_token(form))
            elif path.endswith("oauth2/v2.0/devicecode"):
                self._answer(*server.device_code(form))
            else:
                self._answer(404, {"error": "not_found"})

        def _answer(self, status: int, document: dict) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Cache-Control", "no-store, no-cache")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _tls_context(workdir: Path, ca_file: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1; its PEM is also the CA collabd trusts."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "collabd test identity")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = workdir / "identity-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca_file, key_file)
    return context
