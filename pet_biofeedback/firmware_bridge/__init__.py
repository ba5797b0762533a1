"""The device side: bytes from straps in, events out."""
