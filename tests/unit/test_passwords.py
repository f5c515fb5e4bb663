"""Password rules: Django's default validators, with their exact messages."""

from __future__ import annotations

from difflib import SequenceMatcher

import pytest

from service.auth.passwords import common_passwords, password_problems

SHORT = "This password is too short. It must contain at least 8 characters."
COMMON = "This password is too common."
NUMERIC = "This password is entirely numeric."


def similar(verbose_name: str) -> str:
    return f"The password is too similar to the {verbose_name}."


# --- MinimumLengthValidator ------------------------------------------------------


@pytest.mark.parametrize(
    "password, problems",
    [
        ("", [SHORT]),
        ("qzx7!kw", [SHORT]),  # 7
        ("qzx7!kwp", []),  # 8
        ("qzx7!kwpv", []),  # 9
        ("éèçàüöñß", []),  # characters, not bytes
    ],
)
def test_minimum_length(password, problems) -> None:
    assert password_problems(password) == problems


# --- CommonPasswordValidator -----------------------------------------------------


def test_the_common_list() -> None:
    common = common_passwords()
    assert isinstance(common, frozenset) and len(common) >= 10_000
    assert common_passwords() is common  # read once
    assert {"password", "12345678", "qwerty", "iloveyou"} <= common
    assert all(p == p.lower().strip() for p in common)


@pytest.mark.parametrize(
    "password, problems",
    [
        ("password", [COMMON]),
        ("Password", [COMMON]),  # compared in lower case
        ("  PASSWORD \n", [COMMON]),  # and stripped
        ("iloveyou", [COMMON]),
        ("qwerty", [SHORT, COMMON]),
        ("password-qzx", []),
    ],
)
def test_common(password, problems) -> None:
    assert password_problems(password) == problems


# --- NumericPasswordValidator ----------------------------------------------------


@pytest.mark.parametrize(
    "password, problems",
    [
        ("12345678", [COMMON, NUMERIC]),
        ("1234567", [SHORT, COMMON, NUMERIC]),  # Django's order: length, common, numeric
        ("90817263544", [NUMERIC]),
        ("9081726354a", []),
        ("٣٤٥٦٧٨٩٠١٢", [NUMERIC]),  # str.isdigit, as in Django: Arabic-Indic digits count
        ("90817 263544", []),
    ],
)
def test_numeric(password, problems) -> None:
    assert password_problems(password) == problems


# --- UserAttributeSimilarityValidator ---------------------------------------------


def test_similarity_threshold_is_0_7_of_quick_ratio() -> None:
    # 7 letters shared out of 7 + 13 characters: 2 * 7 / 20 = 0.7 exactly.
    at = "wqxzvjk123456"
    below = "wqxzvjk1234567"  # 2 * 7 / 21 = 0.667
    assert SequenceMatcher(a=at, b="wqxzvjk").quick_ratio() == 0.7
    assert password_problems(at, username="wqxzvjk") == [similar("username")]
    assert password_problems(below, username="wqxzvjk") == []


@pytest.mark.parametrize(
    "attribute, verbose_name",
    [("username", "username"), ("first_name", "first name"), ("last_name", "last name"), ("email", "email address")],
)
def test_similarity_names_the_attribute(attribute, verbose_name) -> None:
    assert password_problems("Florentina!", **{attribute: "florentina"}) == [similar(verbose_name)]
    assert password_problems("florentina!", **{attribute: "FLORENTINA"}) == [similar(verbose_name)]
    assert password_problems("unrelated words here", **{attribute: "florentina"}) == []


def test_similarity_to_a_part_of_the_value() -> None:
    """The value is split on non-word characters; each part counts."""
    email = "florentina.quist@hospital-example.org"
    assert password_problems("quist123", email=email) == [similar("email address")]
    assert password_problems("hospital1", email=email) == [similar("email address")]
    assert password_problems("Jean-Luc99", first_name="Jean-Luc") == [similar("first name")]


def test_similarity_reports_only_the_first_attribute() -> None:
    """Django raises on the first similar attribute, in the order username,
    first_name, last_name, email."""
    same = {"username": "florentina", "first_name": "florentina", "email": "florentina@example.com"}
    assert password_problems("florentina1", **same) == [similar("username")]
    assert password_problems("florentina1", first_name="x", last_name="florentina", email="florentina@x.org") == [
        similar("last name")
    ]


def test_similarity_comes_first_then_the_others() -> None:
    assert password_problems("alice", username="alice") == [similar("username"), SHORT, COMMON]
    assert password_problems("12345678", username="12345678") == [similar("username"), COMMON, NUMERIC]


def test_no_attributes_no_similarity() -> None:
    assert password_problems("florentina1") == []


def test_a_long_unrelated_password_is_accepted() -> None:
    attrs = {"username": "alice", "first_name": "Alice", "last_name": "Liddell", "email": "alice@example.com"}
    assert password_problems("correct horse battery staple", **attrs) == []
    # Ten times the length of every value: Django skips the comparison.
    assert password_problems("a" + "z" * 60, username="al") == []


def test_attributes_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        password_problems("florentina1", "florentina")  # type: ignore[misc]
