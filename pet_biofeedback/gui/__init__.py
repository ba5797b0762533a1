"""The desktop app: PySide6 + pyqtgraph views of the session engine (docs/design.md §6).

Widgets here compute nothing: they show what the engine publishes (through `bridge.py`) and
send the person's choices back as intents. `app.py` is the composition root. Importing this
package does not import Qt; its modules do.
"""
