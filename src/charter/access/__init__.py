"""Users, roles, machine tokens, permissions and separation of duties."""
