"""The watchlist function: every face of an upload searched against the stack's face collection."""
