

def test_conversation_keys_of_different_pairs_never_meet():
    from realtime_app.keys import conversation_key, conversation_tag

    assert conversation_tag(2, 10) == conversation_tag(10, 2)
    # ids containing the separator: ("a", "b-c-d-e") and ("a-b", "c-d-e") are different conversations.
    assert conversation_key("a", "b-c-d-e") != conversation_key("a-b", "c-d-e")
    assert conversation_key("x-y", "z") != conversation_key("x", "y-z")
