"""keyward against real AWS KMS responses recorded in
../shared/reference/aws-kms-recorded-responses.json: the same calls, and the
same error codes and messages, for the recorded scenarios keyward
implements. The test skips, saying so, where the file is absent."""

import json
import re
from pathlib import Path

import botocore.config
import botocore.exceptions
import pytest

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "aws-kms-recorded-responses.json"


@pytest.fixture(scope="module")
def recorded():
    if not REFERENCE.is_file():
        pytest.skip(f"no recorded AWS responses at {REFERENCE}")
    return json.loads(REFERENCE.read_text())


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return {"Code": e.value.response["Error"]["Code"], "Message": e.value.response["Error"]["Message"]}


def expected(recorded, scenario, response):
    error = recorded[scenario]["responses"][response]["Error"]
    return {"Code": error["Code"], "Message": error["Message"]}


def recorded_value(recorded, scenario, response):
    """The member value that a recorded validation message quotes."""
    message = recorded[scenario]["responses"][response]["Error"]["Message"]
    return re.search(r"Value '([^']*)'", message).group(1)


def test_tag_errors_match_aws(kms, recorded):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for scenario, key_name in [
        ("create_key_with_invalid_tag_key[lowercase_prefix]", "aws:test"),
        ("create_key_with_invalid_tag_key[uppercase_prefix]", "AWS:test"),
    ]:
        got = error_of(lambda: kms.create_key(Tags=[{"TagKey": key_name, "TagValue": "x"}]))
        assert got == expected(recorded, scenario, "invalid-tag-key"), scenario
    got = error_of(lambda: kms.tag_resource(KeyId=key, Tags=[{"TagKey": "aws:test", "TagValue": "x"}]))
    assert got == expected(recorded, "tag_existing_key_with_invalid_tag_key", "invalid-tag-key")

    long_key = recorded_value(recorded, "create_key_with_invalid_tag_key[too_long_key]", "invalid-tag-key")
    got = error_of(lambda: kms.create_key(Tags=[{"TagKey": long_key, "TagValue": "x"}]))
    assert got == expected(recorded, "create_key_with_invalid_tag_key[too_long_key]", "invalid-tag-key")

    long_value = recorded_value(recorded, "key_with_long_tag_value_raises_error", "too-long-tag-value")
    got = error_of(lambda: kms.create_key(Tags=[{"TagKey": "k", "TagValue": long_value}]))
    assert got == expected(recorded, "key_with_long_tag_value_raises_error", "too-long-tag-value")

    duplicate = [{"TagKey": "k", "TagValue": "1"}, {"TagKey": "k", "TagValue": "2"}]
    got = error_of(lambda: kms.tag_resource(KeyId=key, Tags=duplicate))
    assert got == expected(recorded, "tag_key_with_duplicate_tag_keys_raises_error", "duplicate-tag-keys")

    many = [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)]
    got = error_of(lambda: kms.create_key(Tags=many))
    assert got == expected(recorded, "create_key_with_too_many_tags_raises_error", "invalid-tag-key")

    # None of it changed the key.
    assert kms.list_resource_tags(KeyId=key)["Tags"] == []


@pytest.mark.parametrize("number", [0, 1025, None])
def test_generate_random_errors_match_aws(keyward, recorded, number):
    # What boto3 would refuse before sending, sent as the recording did.
    kms = keyward.client(config=botocore.config.Config(parameter_validation=False))
    scenario = f"generate_random_invalid_number_of_bytes[{number}]"
    params = {} if number is None else {"NumberOfBytes": number}
    got = error_of(lambda: kms.generate_random(**params))
    assert got == expected(recorded, scenario, "generate-random-exc")


@pytest.mark.parametrize("number", [1, 12, 44, 91, 1024])
def test_generate_random_lengths_match_aws(kms, recorded, number):
    length = recorded[f"generate_random[{number}]"]["responses"]["result_length"]
    assert len(kms.generate_random(NumberOfBytes=number)["Plaintext"]) == length
