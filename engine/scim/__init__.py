"""SCIM 2.0 provisioning (RFC 7643, RFC 7644): identity providers create, change and deactivate users and groups."""
