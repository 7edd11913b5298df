import pytest

from casegate.directory.addresses import InvalidAddress, normalize_address, normalize_domain


def test_local_part_longer_than_64_after_lower_casing_is_refused() -> None:
    with pytest.raises(InvalidAddress, match="longer than 64"):
        normalize_address("İ" * 33 + "@example.com")


@pytest.mark.parametrize("text", ["bücher.example.\u00ad", "bücher.example.\u200b"])
def test_invisible_trailing_characters_leave_no_root_dot(text: str) -> None:
    assert normalize_domain(text) == "xn--bcher-kva.example"


def test_single_label_left_after_idna_mapping_is_refused() -> None:
    with pytest.raises(InvalidAddress):
        normalize_domain("bücher.\u00ad")


def test_ascii_domain_longer_than_253_is_refused() -> None:
    with pytest.raises(InvalidAddress):
        normalize_domain(".".join(["a" * 63] * 5))
