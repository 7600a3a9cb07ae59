"""How OAuth's audit events read in the trail (portal.trail)."""
from portal.trail import word

word("oauth.client.created", "API client registered", "registered the API client {name} ({scope})")
word("oauth.client.secret_rotated", "API client secret rotated", "rotated the secret of API client {client_id}")
word("oauth.client.revoked", "API client revoked",
     "revoked API client {client_id} and its {revoked_tokens} tokens")
word("oauth.grant.revoked", "App access revoked", "revoked the access of the app {app}")
word("oauth.app.authorized", "App authorized", "authorized the app {app} ({scope})")
word("oauth.token.refresh_reused", "Refresh token reused", "a used refresh token of {client_id} came back: its "
     "{revoked_tokens} tokens were revoked")
word("oauth.token.code_reused", "Authorization code reused", "a used authorization code of {client_id} came "
     "back: its {revoked_tokens} tokens were revoked")
