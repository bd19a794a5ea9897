"""The designer's persistence: drafts (store), the process library's figures, a version's files."""
