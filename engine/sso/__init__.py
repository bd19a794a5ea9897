"""Single sign-on over OpenID Connect: the provider's metadata and keys, its tokens, provisioning, logout."""
