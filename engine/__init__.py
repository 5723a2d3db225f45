"""engine: batch kinship search over profile datasets (see engine.api)."""
