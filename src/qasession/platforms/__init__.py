"""Platform adapters: one contract (`base.Platform`), one module per platform."""
