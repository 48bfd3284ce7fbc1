"""Stable, machine-readable reason codes for every refusal.

Adapters translate these (SIP2 screen messages, CLI errors, SRU diagnostics);
the codes themselves never change meaning once published.  The English text is
the default message; per-library catalogues may translate it.
"""

from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    # who is asking
    UNKNOWN_PATRON = "unknown_patron"
    UNKNOWN_ITEM = "unknown_item"
    UNKNOWN_HOLD = "unknown_hold"
    UNKNOWN_FEE = "unknown_fee"
    UNKNOWN_REQUEST = "unknown_request"
    PATRON_PENDING = "patron_pending"
    PATRON_LEFT = "patron_left"
    PATRON_BLOCKED = "patron_blocked"
    PATRON_BANNED = "patron_banned"
    CARD_EXPIRED = "card_expired"
    CARD_LOST = "card_lost"
    CARD_BLOCKED = "card_blocked"
    CARD_REPLACED = "card_replaced"
    NO_CARD = "no_card"
    BAD_PIN = "bad_pin"
    AUTH_UNAVAILABLE = "auth_unavailable"
    # what they ask for
    NOT_LOANABLE = "not_loanable"
    NOT_LOANABLE_TO_PATRON = "not_loanable_to_patron"
    SINGLE_COPY_TITLE = "single_copy_title"
    LIMIT_REACHED = "limit_reached"
    PACKAGE_REQUIRED = "package_required"
    PACKAGE_VALUE_EXCEEDED = "package_value_exceeded"
    DEPOSIT_REQUIRED = "deposit_required"
    FINES_OWED = "fines_owed"
    OVERDUE_ITEM = "overdue_item"
    ITEM_ON_HOLD = "item_on_hold"
    ITEM_CHECKED_OUT = "item_checked_out"
    ITEM_NOT_CHECKED_OUT = "item_not_checked_out"
    ITEM_UNAVAILABLE = "item_unavailable"
    RENEWAL_LIMIT = "renewal_limit"
    RENEWAL_TOO_LATE = "renewal_too_late"
    HOLD_NOT_ALLOWED = "hold_not_allowed"
    HOLD_EXISTS = "hold_exists"
    ALREADY_LOST = "already_lost"
    NOT_LOST = "not_lost"
    REFUND_WINDOW_PASSED = "refund_window_passed"
    NO_REFUND = "no_refund"
    # money
    INVALID_AMOUNT = "invalid_amount"
    WRONG_CURRENCY = "wrong_currency"
    OVERPAYMENT = "overpayment"
    NOTHING_OWED = "nothing_owed"
    INSUFFICIENT_DEPOSIT = "insufficient_deposit"
    APPROVAL_REQUIRED = "approval_required"
    OUT_OF_RANGE = "out_of_range"
    # the rest
    INVALID_REQUEST = "invalid_request"
    NOT_PERMITTED = "not_permitted"
    CLEARANCE_FAILED = "clearance_failed"
    INVALID_STATE = "invalid_state"
    DUPLICATE = "duplicate"

    @property
    def message(self) -> str:
        return MESSAGES[self]


MESSAGES: dict[Reason, str] = {
    Reason.UNKNOWN_PATRON: "No patron has this number or card.",
    Reason.UNKNOWN_ITEM: "No item has this barcode.",
    Reason.UNKNOWN_HOLD: "No such hold.",
    Reason.UNKNOWN_FEE: "No such fee.",
    Reason.UNKNOWN_REQUEST: "No such request.",
    Reason.PATRON_PENDING: "The registration has not been approved yet.",
    Reason.PATRON_LEFT: "The patron has left the library.",
    Reason.PATRON_BLOCKED: "The patron's account is blocked.",
    Reason.PATRON_BANNED: "The patron is banned from borrowing.",
    Reason.CARD_EXPIRED: "The card has expired.",
    Reason.CARD_LOST: "The card has been reported lost.",
    Reason.CARD_BLOCKED: "The card is blocked.",
    Reason.CARD_REPLACED: "The card has been replaced by a new card.",
    Reason.NO_CARD: "The patron has no valid card.",
    Reason.BAD_PIN: "The password is wrong.",
    Reason.AUTH_UNAVAILABLE: "The authentication service is unavailable; please try again later.",
    Reason.NOT_LOANABLE: "This item is for use in the library only.",
    Reason.NOT_LOANABLE_TO_PATRON: "Patrons of this type may not borrow this material.",
    Reason.SINGLE_COPY_TITLE: "The library holds too few copies of this title to lend it.",
    Reason.LIMIT_REACHED: "The borrowing limit has been reached.",
    Reason.PACKAGE_REQUIRED: "Home loans need a current service package.",
    Reason.PACKAGE_VALUE_EXCEEDED: "The total price of items out would exceed the package's value.",
    Reason.DEPOSIT_REQUIRED: "A larger deposit is required to borrow this item.",
    Reason.FINES_OWED: "Outstanding fines must be paid first.",
    Reason.OVERDUE_ITEM: "An item is overdue.",
    Reason.ITEM_ON_HOLD: "Another patron has a hold on this item.",
    Reason.ITEM_CHECKED_OUT: "The item is already checked out.",
    Reason.ITEM_NOT_CHECKED_OUT: "The item is not checked out.",
    Reason.ITEM_UNAVAILABLE: "The item is not available.",
    Reason.RENEWAL_LIMIT: "No renewals are left for this loan.",
    Reason.RENEWAL_TOO_LATE: "Renewals must be made before the due date.",
    Reason.HOLD_NOT_ALLOWED: "Holds are not allowed on this item now.",
    Reason.HOLD_EXISTS: "The patron already has a hold on this title.",
    Reason.ALREADY_LOST: "The item is already recorded as lost.",
    Reason.NOT_LOST: "The item is not recorded as lost.",
    Reason.REFUND_WINDOW_PASSED: "The refund period has passed.",
    Reason.NO_REFUND: "Nothing is refundable for this item.",
    Reason.INVALID_AMOUNT: "The amount is not valid.",
    Reason.WRONG_CURRENCY: "The currency is not the library's currency.",
    Reason.OVERPAYMENT: "The payment is larger than the amount owed.",
    Reason.NOTHING_OWED: "Nothing is owed.",
    Reason.INSUFFICIENT_DEPOSIT: "The deposit does not cover this amount.",
    Reason.APPROVAL_REQUIRED: "This needs a recorded approval.",
    Reason.OUT_OF_RANGE: "The value is outside the range the policy allows.",
    Reason.INVALID_REQUEST: "The request is not valid.",
    Reason.NOT_PERMITTED: "This operation is not permitted here.",
    Reason.CLEARANCE_FAILED: "The patron still has items out or money owed.",
    Reason.INVALID_STATE: "The request is not valid in its current state.",
    Reason.DUPLICATE: "This already exists.",
}
