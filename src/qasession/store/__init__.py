"""The state store: the only code that writes SQL for session state (see `store.db`)."""

from qasession.store.db import OutboxItem, PostRecord, Store, from_iso, to_iso

__all__ = ["OutboxItem", "PostRecord", "Store", "from_iso", "to_iso"]
