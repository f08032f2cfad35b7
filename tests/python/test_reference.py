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


def test_missing_and_invalid_key_ids_match_aws(kms, recorded):
    account, region = "111122223333", "us-east-1"
    for missing, response in [
        ("0b4e2a3c-1d2e-4f5a-8b9c-0d1e2f3a4b5c", "describe-nonexistent-key-with-id"),
        (f"arn:aws:kms:{region}:{account}:key/0b4e2a3c-1d2e-4f5a-8b9c-0d1e2f3a4b5c", "describe-nonexistent-with-arn"),
        ("mrk-0123456789abcdef0123456789abcdef", "describe-key-with-valid-id-mrk"),
    ]:
        got = error_of(lambda: kms.describe_key(KeyId=missing))
        want = expected(recorded, "get_key_does_not_exist", response)
        key_id = missing.rsplit("/", 1)[-1]
        arn = f"arn:aws:kms:{region}:{account}:key/{key_id}"
        placeholder = "<mrk-key-arn>" if key_id.startswith("mrk-") else "<key-arn>"
        assert got == {"Code": want["Code"], "Message": want["Message"].replace(placeholder, arn)}, missing
    for response in ["describe-key-with-invalid-uuid", "describe-key-with-invalid-uuid-2",
                     "describe-key-with-invalid-uuid-mrk"]:
        want = expected(recorded, "get_key_invalid_uuid", response)
        invalid = re.search(r"Invalid keyId '([^']*)'", want["Message"]).group(1)
        assert error_of(lambda: kms.describe_key(KeyId=invalid)) == want, invalid


def test_invalid_ciphertext_has_aws_empty_message(kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = bytearray(kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"])
    blob[-1] ^= 1
    got = error_of(lambda: kms.decrypt(CiphertextBlob=bytes(blob)))
    assert got == {"Code": "InvalidCiphertextException", "Message": ""}


def test_alias_without_prefix_matches_aws(kms, recorded):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    got = error_of(lambda: kms.create_alias(AliasName="no-prefix", TargetKeyId=key))
    assert got == expected(recorded, "create_alias", "create_alias")
