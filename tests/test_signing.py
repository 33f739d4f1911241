"""The one signing module: links already mailed keep verifying, faults come typed.

The pinned tokens below were made by the two wrappers that imported itsdangerous themselves
before ``aggregator.signing`` owned it; a link in someone's inbox must still open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.accounts.tokens import make_reset_token, read_reset_token
from aggregator.signing import Keying, SignedTags, SignedTokens, SigningError, SigningFault
from aggregator.subscribers.tokens import Purpose, TokenError, TokenFault, Tokens

SECRET = b"s3cret"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RESET = "WzcsIjM1YWY3ZjQ3MDU3NWQzN2NlMTUyNTFhNiJd.aaQqQA.g0yPYLWMtlq-ZGShKcYM94qACMU"
CONFIRM = "WzQyLCJuMG5jZSJd.aaQqQA.u1QXgPSU-5GrFAeix0koqwdshji8GbjrHsnyzwHm-8c"
MANAGE = "WzQyLCJuMG5jZSJd.aaQqQA.4sJKYNrdZF-sYKSmOEA--K0o9GdUzMBOfh_i3MUSP8A"
VERP = "bounces+42.7b02844a.Yqq-is3UNX7efxJbSlYKIiiyMk4@example.org"


def test_links_issued_before_the_move_are_made_and_read_the_same() -> None:
    assert make_reset_token(SECRET, 7, "$argon2id$x", NOW) == RESET
    later = NOW + timedelta(minutes=30)
    claim = read_reset_token(SECRET, RESET, later)
    assert claim is not None and claim[0] == 7
    tokens = Tokens(SECRET, lambda: NOW)
    assert tokens.make(Purpose.CONFIRM, 42, "n0nce") == CONFIRM
    assert tokens.make(Purpose.MANAGE, 42, "n0nce") == MANAGE
    assert tokens.read(Purpose.MANAGE, MANAGE, 60) == (42, "n0nce")
    assert tokens.verp_address("bounces@example.org", 42, "2026-03-01-en") == VERP
    assert tokens.read_verp(VERP) == (42, "7b02844a")


def test_an_old_link_is_expired_and_one_of_another_purpose_is_tampered() -> None:
    tokens = Tokens(SECRET, lambda: NOW + timedelta(hours=2))
    with pytest.raises(TokenError) as expired:
        tokens.read(Purpose.CONFIRM, CONFIRM, 3600)
    assert expired.value.fault is TokenFault.EXPIRED
    with pytest.raises(TokenError) as crossed:
        tokens.read(Purpose.CONFIRM, MANAGE, 10**9)
    assert crossed.value.fault is TokenFault.TAMPERED
    assert read_reset_token(SECRET, RESET, NOW + timedelta(hours=2)) is None


def test_faults_are_ours_never_the_librarys() -> None:
    signed = SignedTokens(SECRET, "purpose a", lambda: NOW, Keying.HMAC_SHA256)
    token = signed.dumps({"id": 1})
    assert signed.loads(token, 5) == {"id": 1}
    for bad in (token[:-2] + "xx", "not a token", ""):
        with pytest.raises(SigningError) as err:
            signed.loads(bad, 5)
        assert err.value.fault is SigningFault.TAMPERED
    other = SignedTokens(SECRET, "purpose b", lambda: NOW, Keying.HMAC_SHA256)
    with pytest.raises(SigningError):
        other.loads(token, 5)
    late = SignedTokens(SECRET, "purpose a", lambda: NOW + timedelta(seconds=6), signed.keying)
    with pytest.raises(SigningError) as err:
        late.loads(token, 5)
    assert err.value.fault is SigningFault.EXPIRED


def test_a_tag_reads_back_only_when_untouched() -> None:
    tags = SignedTags(SECRET, "purpose t")
    tag = tags.sign("42.abc")
    assert tags.unsign(tag) == "42.abc"
    assert tags.unsign(tag.replace("42", "43")) is None
    assert SignedTags(SECRET, "purpose u").unsign(tag) is None
