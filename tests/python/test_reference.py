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


def with_arn(want, arn):
    return {"Code": want["Code"], "Message": want["Message"].replace("<key-arn>", arn)}


SIGN_VERIFY = [name for name in [
    "sign_verify[ECC_NIST_P256-ECDSA_SHA_256]", "sign_verify[ECC_NIST_P384-ECDSA_SHA_384]",
    "sign_verify[ECC_SECG_P256K1-ECDSA_SHA_256]", "sign_verify[RSA_2048-RSASSA_PSS_SHA_256]",
    "sign_verify[RSA_2048-RSASSA_PSS_SHA_384]", "sign_verify[RSA_2048-RSASSA_PSS_SHA_512]",
    "sign_verify[RSA_4096-RSASSA_PKCS1_V1_5_SHA_256]", "sign_verify[RSA_4096-RSASSA_PKCS1_V1_5_SHA_512]",
]]


@pytest.mark.parametrize("scenario", SIGN_VERIFY)
def test_sign_and_verify_match_aws(kms, recorded, scenario):
    spec, algorithm = re.match(r"sign_verify\[(\w+)-(\w+)\]", scenario).groups()
    responses = recorded[scenario]["responses"]
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    message = b"test message"
    signed = kms.sign(KeyId=key, Message=message, SigningAlgorithm=algorithm)
    assert signed["SigningAlgorithm"] == responses["signature"]["SigningAlgorithm"]
    verified = kms.verify(KeyId=key, Message=message, Signature=signed["Signature"],
                          SigningAlgorithm=algorithm)
    assert verified["SignatureValid"] == responses["verification"]["SignatureValid"]
    got = error_of(lambda: kms.sign(KeyId=key, Message=b"\0" * 7, MessageType="DIGEST",
                                    SigningAlgorithm=algorithm))
    assert got == expected(recorded, scenario, "bad-digest")
    got = error_of(lambda: kms.verify(KeyId=key, Message=b"another message",
                                      Signature=signed["Signature"], SigningAlgorithm=algorithm))
    assert got == expected(recorded, scenario, "bad-signature")


@pytest.mark.parametrize("spec", ["HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"])
def test_generate_and_verify_mac_match_aws(kms, recorded, spec):
    algorithm = "HMAC_SHA_" + spec[-3:]
    scenario = f"generate_and_verify_mac[{spec}-{algorithm}]"
    responses = recorded[scenario]["responses"]
    key = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=key, Message=b"some important message", MacAlgorithm=algorithm)
    assert mac["MacAlgorithm"] == responses["generate-mac"]["MacAlgorithm"]
    verified = kms.verify_mac(KeyId=key, Message=b"some important message", Mac=mac["Mac"],
                              MacAlgorithm=algorithm)
    assert verified["MacValid"] == responses["verify-mac"]["MacValid"]
    assert verified["MacAlgorithm"] == responses["verify-mac"]["MacAlgorithm"]
    got = error_of(lambda: kms.generate_mac(KeyId="key_id", Message=b"m", MacAlgorithm=algorithm))
    assert got == expected(recorded, scenario, "generate-mac-invalid-key-id")
    got = error_of(lambda: kms.verify_mac(KeyId="key_id", Message=b"m", Mac=mac["Mac"],
                                          MacAlgorithm=algorithm))
    assert got == expected(recorded, scenario, "verify-mac-invalid-key-id")


def test_mac_errors_match_aws(kms, recorded):
    key224 = kms.create_key(KeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    got = error_of(lambda: kms.generate_mac(KeyId=key224, Message=b"m", MacAlgorithm="HMAC_SHA_256"))
    assert got == expected(recorded, "invalid_generate_mac[HMAC_224-HMAC_SHA_256]", "generate-mac")
    key256 = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=key256, Message=b"some important message",
                           MacAlgorithm="HMAC_SHA_256")["Mac"]
    got = error_of(lambda: kms.verify_mac(KeyId=key256, Message=b"some different important message",
                                          Mac=mac, MacAlgorithm="HMAC_SHA_256"))
    assert got == expected(recorded, "invalid_verify_mac[HMAC_256-HMAC_SHA_256-some different important message]",
                           "verify-mac")
    got = error_of(lambda: kms.verify_mac(KeyId=key256, Message=b"some important message",
                                          Mac=mac, MacAlgorithm="HMAC_SHA_512"))
    assert got == expected(recorded, "invalid_verify_mac[HMAC_256-HMAC_SHA_512-some important message]",
                           "verify-mac")
    got = error_of(lambda: kms.create_key(KeySpec="HMAC_256"))
    assert got == expected(recorded, "hmac_create_key_invalid_operations", "create-hmac-key-without-key-usage")


def test_hmac_key_metadata_matches_aws(kms, recorded):
    created = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                             Description="test key")["KeyMetadata"]
    want = recorded["hmac_create_key"]["responses"]["create-hmac-key"]
    for member in ["CustomerMasterKeySpec", "KeySpec", "KeyUsage", "MacAlgorithms", "KeyState",
                   "Enabled", "KeyManager", "Origin", "MultiRegion", "Description"]:
        assert created[member] == want[member], member
    assert "EncryptionAlgorithms" not in created and "SigningAlgorithms" not in created


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_rsa_plaintext_limits_match_aws(kms, recorded, spec, algorithm):
    scenario = f"encrypt_validate_plaintext_size_per_key_type[{spec}-{algorithm}]"
    want = expected(recorded, scenario, "generate-random-exc")
    limit = int(re.search(r"larger than (\d+) bytes", want["Message"]).group(1))
    key = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    got = error_of(lambda: kms.encrypt(KeyId=key, Plaintext=b"x" * (limit + 1),
                                       EncryptionAlgorithm=algorithm))
    assert got == want
    assert kms.encrypt(KeyId=key, Plaintext=b"x" * limit, EncryptionAlgorithm=algorithm)


def test_wrong_key_usage_errors_match_aws(kms, recorded):
    scenario = "error_messaging_for_invalid_keys"
    symmetric = kms.create_key()["KeyMetadata"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    got = error_of(lambda: kms.encrypt(KeyId=signing["KeyId"], Plaintext=b"m"))
    assert got == with_arn(expected(recorded, scenario, "encrypt-invalid-key-id"), signing["Arn"])
    got = error_of(lambda: kms.generate_mac(KeyId=symmetric["KeyId"], Message=b"m",
                                            MacAlgorithm="HMAC_SHA_256"))
    assert got == with_arn(expected(recorded, scenario, "generate-mac-invalid-key-id"), symmetric["Arn"])
    got = error_of(lambda: kms.sign(KeyId=hmac_key["KeyId"], Message=b"m",
                                    SigningAlgorithm="ECDSA_SHA_256"))
    assert got == with_arn(expected(recorded, scenario, "sign-invalid-key-id"), hmac_key["Arn"])
    got = error_of(lambda: kms.verify(KeyId=symmetric["KeyId"], Message=b"m", Signature=b"s",
                                      SigningAlgorithm="ECDSA_SHA_256"))
    assert got == with_arn(expected(recorded, scenario, "verify-invalid-key-id"), symmetric["Arn"])
    # A ciphertext under one key, with another key named.
    blob = kms.encrypt(KeyId=symmetric["KeyId"], Plaintext=b"m")["CiphertextBlob"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    got = error_of(lambda: kms.decrypt(CiphertextBlob=blob, KeyId=other))
    assert got == expected(recorded, scenario, "decrypt-invalid-key-id")


def test_derive_shared_secret_errors_match_aws(kms, recorded):
    scenario = "derive_shared_secret"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    peer = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    agreement = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    out = kms.derive_shared_secret(KeyId=agreement["KeyId"], KeyAgreementAlgorithm="ECDH",
                                   PublicKey=peer)
    want = recorded[scenario]["responses"]["response"]
    assert (out["KeyAgreementAlgorithm"], out["KeyOrigin"]) == (want["KeyAgreementAlgorithm"], want["KeyOrigin"])
    symmetric = kms.create_key()["KeyMetadata"]
    got = error_of(lambda: kms.derive_shared_secret(KeyId=symmetric["KeyId"],
                                                    KeyAgreementAlgorithm="ECDH", PublicKey=peer))
    assert got == with_arn(expected(recorded, scenario, "response-invalid-key"), symmetric["Arn"])
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    got = error_of(lambda: kms.derive_shared_secret(KeyId=signing["KeyId"],
                                                    KeyAgreementAlgorithm="ECDH", PublicKey=peer))
    assert got == with_arn(expected(recorded, scenario, "response-invalid-key-usage"), signing["Arn"])
    got = error_of(lambda: kms.create_key(KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT"))
    assert got == expected(recorded, scenario, "response-invalid-key-spec")
    got = error_of(lambda: kms.derive_shared_secret(KeyId=agreement["KeyId"],
                                                    KeyAgreementAlgorithm="ECDH", PublicKey=b"\x30\x00"))
    assert got == expected(recorded, scenario, "response-invalid-public-key")


def test_data_key_pair_dry_run_and_context_match_aws(kms, recorded):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for method, scenario in [
        (kms.generate_data_key_pair, "generate_data_key_pair_dry_run"),
        (kms.generate_data_key_pair_without_plaintext, "generate_data_key_pair_without_plaintext_dry_run"),
    ]:
        got = error_of(lambda: method(KeyId=key, KeyPairSpec="RSA_2048", DryRun=True))
        assert got == expected(recorded, scenario, "dryrun_exception")
    pair = kms.generate_data_key_pair_without_plaintext(KeyId=key, KeyPairSpec="ECC_NIST_P256",
                                                         EncryptionContext={"a": "b"})
    got = error_of(lambda: kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"]))
    assert got == expected(recorded, "encryption_context_generate_data_key_pair_without_plaintext",
                           "decrypt-without-encryption-context")
    want = recorded["generate_data_key_pair"]["responses"]["generate-data-key-pair"]
    out = kms.generate_data_key_pair(KeyId=key, KeyPairSpec="RSA_2048")
    assert set(want) - {"ResponseMetadata"} == set(out) - {"ResponseMetadata"}


VARIABLE = {"AWSAccountId", "Arn", "KeyId", "CreationDate", "Description", "ValidTo",
            "CurrentKeyMaterialId"}


def same_metadata(got, want):
    """Every member AWS returned, with AWS's values, and no others; the
    account, ids, dates and descriptions aside."""
    got = {k: v for k, v in got.items() if k not in VARIABLE}
    want = {k: v for k, v in want.items() if k not in VARIABLE}
    assert got == want


def wrap_for_import(params, material):
    import os
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
    wrapping = serialization.load_der_public_key(params["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    aes_key = os.urandom(32)
    return wrapping.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
                                  "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"])
def test_imported_asymmetric_and_hmac_keys_match_aws(kms, recorded, spec):
    import os
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    hmac_key = spec.startswith("HMAC")
    scenario = f"import_key_hmac_keys[{spec}]" if hmac_key else f"import_key_ecc_keys[{spec}]"
    responses = recorded[scenario]["responses"]
    usage = "GENERATE_VERIFY_MAC" if hmac_key else "SIGN_VERIFY"
    key = kms.create_key(KeySpec=spec, KeyUsage=usage, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    same_metadata(kms.describe_key(KeyId=key)["KeyMetadata"],
                  responses["describe-key-before-import"]["KeyMetadata"])
    if hmac_key:
        material = os.urandom(int(spec[-3:]) // 8)
    else:
        curve = {"ECC_NIST_P256": ec.SECP256R1(), "ECC_NIST_P384": ec.SECP384R1(),
                 "ECC_NIST_P521": ec.SECP521R1(), "ECC_SECG_P256K1": ec.SECP256K1()}[spec]
        material = ec.generate_private_key(curve).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # RSA_2048, where the recording used RSA_4096: generating that takes
    # seconds in the guest, and the wrapping key's size is not under test.
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=wrap_for_import(params, material),
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    same_metadata(kms.describe_key(KeyId=key)["KeyMetadata"],
                  responses["describe-key-after-import"]["KeyMetadata"])
    if hmac_key:
        algorithm = responses["generate-mac-response"]["MacAlgorithm"]
        mac = kms.generate_mac(KeyId=key, Message=b"m", MacAlgorithm=algorithm)
        assert mac["MacAlgorithm"] == algorithm
        assert kms.verify_mac(KeyId=key, Message=b"m", Mac=mac["Mac"], MacAlgorithm=algorithm)["MacValid"]
    else:
        algorithm = responses["sign-result"]["SigningAlgorithm"]
        signature = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
        assert kms.verify(KeyId=key, Message=b"m", Signature=signature,
                          SigningAlgorithm=algorithm)["SignatureValid"]
    kms.delete_imported_key_material(KeyId=key)
    same_metadata(kms.describe_key(KeyId=key)["KeyMetadata"],
                  responses["describe-key-after-deleted-import"]["KeyMetadata"])


def test_re_encrypt_to_and_from_rsa_matches_aws(kms, recorded):
    want = recorded["re_encrypt[RSA_2048-RSAES_OAEP_SHA_256]"]["responses"]["test_re_encrypt"]
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"re-encrypt me",
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    out = kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=key["KeyId"],
                         SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
                         DestinationKeyId=key["KeyId"],
                         DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["SourceEncryptionAlgorithm"] == want["SourceEncryptionAlgorithm"]
    assert out["DestinationEncryptionAlgorithm"] == want["DestinationEncryptionAlgorithm"]
    assert out["SourceKeyId"] == key["Arn"]
    assert set(out) == set(want)
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"], KeyId=key["KeyId"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == b"re-encrypt me"
