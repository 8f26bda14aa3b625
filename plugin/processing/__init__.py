"""The Processing provider and its algorithms: they parse parameters and call the core."""
