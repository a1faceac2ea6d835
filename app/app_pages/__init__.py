"""The dashboard's pages, UI only: each reads the shared filters and asks ``metrics`` through app.context."""
