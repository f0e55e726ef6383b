"""Where Microsoft's identity platform and Exchange Online are, per cloud.

From Microsoft's documentation: "National clouds" (Microsoft Entra authentication endpoints)
and "Authenticate an IMAP, POP or SMTP connection using OAuth" (the scopes). Microsoft 365
operated by 21Vianet signs in at login.partner.microsoftonline.cn (the Entra page's name;
Graph's "National cloud deployments" page names login.chinacloudapi.cn for the same
service, settable as mail.oauth.authority), serves Graph at microsoftgraph.chinacloudapi.cn
and Exchange Online (IMAP, SMTP, the partner.outlook.cn resource) at partner.outlook.cn.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    login_host: str  # the Microsoft Entra authentication endpoint
    resource: str  # Exchange Online, as an app-only token's audience
    delegated_resource: str  # … and as Microsoft's page names it for delegated scopes
    imap_host: str
    smtp_host: str

    def authority(self, tenant: str) -> str:
        return f"https://{self.login_host}/{tenant}"

    def scopes(self, flow: str) -> list[str]:
        if flow == "app":  # client credentials: the app's granted permissions, all of them
            return [f"{self.resource}/.default"]
        # Delegated: msal adds offline_access (for the refresh token) by itself.
        resource = self.delegated_resource
        return [f"{resource}/IMAP.AccessAsUser.All", f"{resource}/SMTP.Send"]


CLOUDS = {
    "global": Cloud(
        login_host="login.microsoftonline.com",
        resource="https://outlook.office365.com",
        delegated_resource="https://outlook.office.com",
        imap_host="outlook.office365.com",
        smtp_host="smtp.office365.com",
    ),
    "china": Cloud(
        login_host="login.partner.microsoftonline.cn",
        resource="https://partner.outlook.cn",
        delegated_resource="https://partner.outlook.cn",
        imap_host="partner.outlook.cn",
        smtp_host="smtp.partner.outlook.cn",
    ),
}

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPES = ["https://mail.google.com/"]  # the one scope Gmail's IMAP and SMTP accept
