"""The application core: importers, the session engine, protocols, history and exports."""
