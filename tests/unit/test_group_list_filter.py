import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.groups import FilterModule, group_list, supports_group_tuples

DEFAULT = ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "prime256v1"]


def test_enforce_puts_quantum_safe_groups_in_a_first_tuple():
    assert group_list(DEFAULT, "enforce", "3.5.9") == "X25519MLKEM768:SecP256r1MLKEM768/X25519:secp256r1"


def test_prefer_is_one_flat_list():
    assert group_list(DEFAULT, "prefer", "3.5.9") == "X25519MLKEM768:SecP256r1MLKEM768:X25519:secp256r1"


def test_openssl_before_3_5_gets_a_flat_list_even_when_enforcing():
    assert group_list(DEFAULT, "enforce", "3.4.2") == "X25519MLKEM768:SecP256r1MLKEM768:X25519:secp256r1"


def test_order_inside_each_tuple_is_kept():
    names = ["X25519", "SecP256r1MLKEM768", "secp384r1", "X25519MLKEM768"]
    assert group_list(names, "enforce", "3.6.0") == "SecP256r1MLKEM768:X25519MLKEM768/X25519:secp384r1"


def test_only_quantum_safe_groups_need_no_tuple():
    assert group_list(["X25519MLKEM768", "MLKEM768"], "enforce", "3.5.0") == "X25519MLKEM768:MLKEM768"


@pytest.mark.parametrize("names, policy, message", [
    (["X25519MLKEM768", "X25519MLKEM999"], "enforce", "X25519MLKEM999"),
    ([], "enforce", "empty"),
    (["X25519", "x25519"], "prefer", "listed twice"),
    (DEFAULT, "enforced", "enforced"),
])
def test_bad_input_names_the_bad_value(names, policy, message):
    with pytest.raises(AnsibleFilterError, match=message):
        group_list(names, policy, "3.5.9")


@pytest.mark.parametrize("version, expected", [
    ("3.5.0", True), ("3.5.9", True), ("3.6.1", True), ("4.0.0", True),
    ("3.4.2", False), ("3.0.19", False), ("3.5.0-alpha1", True),
])
def test_supports_group_tuples(version, expected):
    assert supports_group_tuples(version) is expected


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"group_list", "group_info", "supports_group_tuples"}


def test_aws_lc_gets_one_flat_list_in_its_own_spellings_whatever_the_policy():
    # AWS-LC 5.1.0's kNamedGroups reads P-256, not secp256r1, and has no tuples.
    for policy in ("enforce", "prefer"):
        assert group_list(DEFAULT, policy, "3.5.9", "aws-lc") == "X25519MLKEM768:SecP256r1MLKEM768:X25519:P-256"
    assert group_list(["MLKEM1024", "secp384r1"], "enforce", "3.5.9", "aws-lc") == "MLKEM1024:P-384"


def test_aws_lc_refuses_a_group_it_does_not_serve_naming_it():
    with pytest.raises(AnsibleFilterError, match="AWS-LC does not serve ffdhe2048, x448"):
        group_list(["X25519MLKEM768", "ffdhe2048", "X448"], "enforce", "3.5.9", "aws-lc")


def test_an_unknown_library_is_refused():
    with pytest.raises(AnsibleFilterError, match="unknown TLS library 'boringssl'"):
        group_list(DEFAULT, "enforce", "3.5.9", "boringssl")
