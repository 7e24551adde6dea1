import pytest
from django.utils import translation

from messaging.importing.phones import FORMULA_WITHOUT_VALUE, Reason, Rejection, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800000001", "13800000001"),
        ("138 0000 0001", "13800000001"),
        ("138-0000-0001", "13800000001"),
        ("138.0000.0001", "13800000001"),
        ("(138)0000-0001", "13800000001"),
        ("+86 138 0000 0001", "13800000001"),
        ("+86-13800000001", "13800000001"),
        ("0086 13800000001", "13800000001"),
        ("8613800000001", "13800000001"),
        ("13800000001.0", "13800000001"),
        ("13800000001.00", "13800000001"),
        (13800000001, "13800000001"),
        (13800000001.0, "13800000001"),
        ("'13800000001", "13800000001"),
        ("１３８００００００01", "13800000001"),
        (" 19912345678\t", "19912345678"),
    ],
)
def test_chinese_mobiles_are_normalized(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1.38E+10", Reason.SCIENTIFIC),
        ("1.38000000001e10", Reason.SCIENTIFIC),
        ("1.38e+10", Reason.SCIENTIFIC),
        ("", Reason.MISSING),
        (None, Reason.MISSING),
        ("   ", Reason.MISSING),
        ("1380000000", Reason.WRONG_LENGTH),
        ("138000000012", Reason.WRONG_LENGTH),
        ("12800000001", Reason.NOT_MOBILE),
        ("010-12345678", Reason.NOT_MOBILE),
        ("86", Reason.NOT_MOBILE),
        ("abc", Reason.NOT_A_NUMBER),
        ("138x0000001", Reason.NOT_A_NUMBER),
        (13800000001.5, Reason.NOT_A_NUMBER),
        (True, Reason.NOT_A_NUMBER),
        ("+86 1380000000", Reason.WRONG_LENGTH),
        ("+447400123456", Reason.INTERNATIONAL),
        ("001 415 555 0123", Reason.INTERNATIONAL),
        (FORMULA_WITHOUT_VALUE, Reason.FORMULA),
    ],
)
def test_bad_numbers_are_rejected_with_a_reason(raw, reason):
    result = normalize(raw)
    assert isinstance(result, Rejection)
    assert result.reason is reason


def test_scientific_notation_is_never_guessed_even_when_international_is_allowed():
    assert normalize("1.38E+10", allow_international=True).reason is Reason.SCIENTIFIC


def test_international_numbers_become_e164_when_allowed():
    assert normalize("+44 7400 123456", allow_international=True) == "+447400123456"
    assert normalize("0014155550123", allow_international=True) == "+14155550123"
    # +86 stays a Chinese mobile in its 11-digit form
    assert normalize("+8613800000001", allow_international=True) == "13800000001"
    assert normalize("+1 23", allow_international=True).reason is Reason.BAD_INTERNATIONAL


def test_reasons_are_translated():
    with translation.override("en"):
        assert normalize("1.38E+10").message == "Excel scientific notation; digits lost"
        assert (
            normalize("+447400123456").message
            == "international number; this list accepts Chinese mobiles only"
        )
    with translation.override("zh-hans"):
        assert isinstance(normalize("1.38E+10").message, str)
