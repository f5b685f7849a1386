"""Wire protocols, free of Tornado: message shapes, parsing, state.

The Tornado handlers in `app.web` are thin adapters around these.
"""
