"""FEEL's built-in functions: `builtins` is the table by name, `library` the registry and argument helpers, the
other modules the functions (they register themselves on import)."""
