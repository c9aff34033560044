"""A send policy used by the tests: only users whose names start with the same letter may talk."""


def same_initial(sender, recipient) -> bool:
    return sender.username[0] == recipient.username[0]


LOOKUPS: list[tuple[str, str]] = []


def counting_allow(sender, recipient) -> bool:
    """Allows everyone and records each call: the policy runs only when the database is asked."""
    LOOKUPS.append((sender.username, recipient.username))
    return True


def explode_for_carol(sender, recipient) -> bool:
    """A policy with a bug for one recipient: the consumer must answer an error frame, not crash."""
    if recipient.username == "carol":
        msg = "policy bug"
        raise RuntimeError(msg)
    return True
