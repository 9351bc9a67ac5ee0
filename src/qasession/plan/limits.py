"""What a plan may hold: caps that keep `qa plan` fast and a mistaken file from hanging it.

Real plans are far below every cap (a busy series has a dozen sessions of a few announcements
each); the README's plan section lists them. Each cap is checked before the work it bounds.
"""

from __future__ import annotations

MAX_PLAN_BYTES = 1_000_000  # the file itself (read at most this + 1 bytes)
MAX_VALUES = 200_000  # values once YAML aliases are expanded ("billion laughs")
MAX_SESSIONS = 100
MAX_ANNOUNCEMENTS = 50  # per session
MAX_QUIET_DATES = 1_000  # per session (after `defaults` are merged in)
MAX_TEXT = 5_000  # characters of any one text of the file (posts, titles, notes...)
MAX_LIST = 1_000  # handles or words in one moderation list
MAX_PATTERNS = 100  # sensitive_patterns of one session
MAX_PATTERN = 1_000  # characters of one regular expression
MAX_PATH = 4_096  # characters of an image path (and 255 bytes per name in it)
MAX_NAME_BYTES = 255
MAX_ERRORS = 100  # errors reported at once; the rest are counted
MIN_YEAR, MAX_YEAR = 1970, 2200  # dates and times of a plan
