"""How to ask: sessions, credentials, discovery, the signed hot call, retry, timeouts, limiter."""
