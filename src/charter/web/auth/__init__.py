"""Console authentication: server-side sessions, login rate limit."""
