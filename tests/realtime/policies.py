"""A send policy used by the tests: only users whose names start with the same letter may talk."""


def same_initial(sender, recipient) -> bool:
    return sender.username[0] == recipient.username[0]
