"""Log hygiene: phone numbers never reach the logs, whatever a message carries."""

import logging
import re
from urllib.parse import unquote_plus

# +7 916 123-45-67, 89161234567, 7(916)1234567 ... : ten or more digits with separators.
_PHONE = re.compile(r"(?<!\d)(\+?\d[\d\s()\-]{8,}\d)(?!\d)")


def mask_phones(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(1))
        if len(digits) < 10:
            return m.group(1)
        return "***" + digits[-2:]

    return _PHONE.sub(repl, text)


class MaskPhoneNumbersFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        # Request lines carry query strings: ?phone=%2B7%20916... must be masked too.
        masked = mask_phones(unquote_plus(msg) if "%" in msg else msg)
        if masked != msg:
            record.msg, record.args = masked, None
        return True
