"""What a notice can be about, how it can travel, which languages ship, and each kind's variables."""

from __future__ import annotations

KINDS = (
    "due_soon",
    "overdue",
    "recall",
    "hold_ready",
    "hold_expired",
    "fine",
    "card_expiring",
    "deposit_deducted",
    "ill_arrived",
)
CHANNELS = ("email", "sms", "wechat")
LANGUAGES = ("zh", "vi", "en")
FALLBACK_LANGUAGE = "en"

COMMON_VARIABLES = ("name", "library")
"""Filled in at delivery from the patron and library rows; every template may use them."""

VARIABLES: dict[str, tuple[str, ...]] = {
    "due_soon": ("title", "due_date"),
    "overdue": ("title", "due_date", "days_overdue"),
    "recall": ("title", "due_date"),
    "hold_ready": ("title", "pickup_branch", "shelf_expires_on"),
    "hold_expired": ("title",),
    "fine": ("amount", "currency", "fee_type"),
    "card_expiring": ("card_number", "valid_until"),
    "deposit_deducted": ("amount", "currency", "balance"),
    "ill_arrived": ("title", "pickup_branch"),
}
"""The payload keys ``enqueue`` must be given for each kind (the templates' ``$placeholders``)."""
