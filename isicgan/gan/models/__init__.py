"""One module per generator; see isicgan.registry. A new generator is a new module here."""
