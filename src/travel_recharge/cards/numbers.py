"""Card numbers: 16 digits, an issuer prefix, the card id and a Luhn check digit.

Deriving the number from the id makes it unique without a retry loop, and the check digit
lets validators and recharge points reject a mistyped number offline.
"""

from __future__ import annotations

ISSUER_PREFIX = "9100"
_BODY_DIGITS = 15


def luhn_check_digit(digits: str) -> str:
    total = 0
    # Double every second digit from the right of the final number (the check digit is last).
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def card_number_for(card_id: int) -> str:
    body = f"{ISSUER_PREFIX}{card_id:0{_BODY_DIGITS - len(ISSUER_PREFIX)}d}"
    if len(body) != _BODY_DIGITS:
        raise ValueError(f"card id {card_id} does not fit in a card number")
    return body + luhn_check_digit(body)


def is_valid_card_number(number: str) -> bool:
    return (
        len(number) == _BODY_DIGITS + 1
        and number.isdigit()
        and luhn_check_digit(number[:-1]) == number[-1]
    )
