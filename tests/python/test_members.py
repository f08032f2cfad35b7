"""Every request member of AWS's service model, sent to keyward one at a
time: a member keyward implements is acted on, and every other one is
refused by name (`UnsupportedOperationException`) before anything happens.
Nothing is silently dropped. The model is botocore's, pinned in
requirements.txt: moving the pin brings AWS's new members here, each a
failure until it is classified below."""

import datetime

import botocore.config
import botocore.exceptions
import pytest

# The members keyward acts on, per operation it serves. Every other member of
# these operations must be refused.
IMPLEMENTED = {
    "CancelKeyDeletion": {"KeyId"},
    "CreateAlias": {"AliasName", "TargetKeyId"},
    "CreateGrant": {"KeyId", "GranteePrincipal", "RetiringPrincipal", "Operations",
                    "Constraints", "GrantTokens", "Name", "DryRun"},
    "CreateKey": {"Policy", "Description", "KeyUsage", "CustomerMasterKeySpec", "KeySpec",
                  "Origin", "CustomKeyStoreId", "BypassPolicyLockoutSafetyCheck", "Tags",
                  "MultiRegion", "XksKeyId"},
    "Decrypt": {"CiphertextBlob", "EncryptionContext", "GrantTokens", "KeyId",
                "EncryptionAlgorithm", "DryRun"},
    "DeleteAlias": {"AliasName"},
    "DeleteImportedKeyMaterial": {"KeyId"},
    "DescribeKey": {"KeyId", "GrantTokens"},
    "DisableKey": {"KeyId"},
    "DisableKeyRotation": {"KeyId"},
    "EnableKey": {"KeyId"},
    "EnableKeyRotation": {"KeyId", "RotationPeriodInDays"},
    "Encrypt": {"KeyId", "Plaintext", "EncryptionContext", "GrantTokens",
                "EncryptionAlgorithm", "DryRun"},
    "GenerateDataKey": {"KeyId", "EncryptionContext", "NumberOfBytes", "KeySpec",
                        "GrantTokens", "DryRun"},
    "GenerateDataKeyWithoutPlaintext": {"KeyId", "EncryptionContext", "KeySpec",
                                        "NumberOfBytes", "GrantTokens", "DryRun"},
    "GenerateRandom": {"NumberOfBytes", "CustomKeyStoreId"},
    "GetKeyLastUsage": {"KeyId"},
    "GetKeyPolicy": {"KeyId", "PolicyName"},
    "GetKeyRotationStatus": {"KeyId"},
    "GetParametersForImport": {"KeyId", "WrappingAlgorithm", "WrappingKeySpec"},
    "ImportKeyMaterial": {"KeyId", "ImportToken", "EncryptedKeyMaterial", "ValidTo",
                          "ExpirationModel"},
    "ListAliases": {"KeyId", "Limit", "Marker"},
    "ListGrants": {"Limit", "Marker", "KeyId", "GrantId", "GranteePrincipal"},
    "ListKeyPolicies": {"KeyId", "Limit", "Marker"},
    "ListKeyRotations": {"KeyId", "Limit", "Marker"},
    "ListKeys": {"Limit", "Marker"},
    "ListResourceTags": {"KeyId", "Limit", "Marker"},
    "ListRetirableGrants": {"Limit", "Marker", "RetiringPrincipal"},
    "PutKeyPolicy": {"KeyId", "PolicyName", "Policy", "BypassPolicyLockoutSafetyCheck"},
    "ReEncrypt": {"CiphertextBlob", "SourceEncryptionContext", "SourceKeyId",
                  "DestinationKeyId", "DestinationEncryptionContext",
                  "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm",
                  "GrantTokens", "DryRun"},
    "RetireGrant": {"GrantToken", "KeyId", "GrantId", "DryRun"},
    "RevokeGrant": {"KeyId", "GrantId", "DryRun"},
    "RotateKeyOnDemand": {"KeyId"},
    "ScheduleKeyDeletion": {"KeyId", "PendingWindowInDays"},
    "TagResource": {"KeyId", "Tags"},
    "UntagResource": {"KeyId", "TagKeys"},
    "UpdateAlias": {"AliasName", "TargetKeyId"},
    "UpdateKeyDescription": {"KeyId", "Description"},
    "Sign": {"KeyId", "Message", "MessageType", "GrantTokens", "SigningAlgorithm", "DryRun"},
    "Verify": {"KeyId", "Message", "MessageType", "Signature", "SigningAlgorithm",
               "GrantTokens", "DryRun"},
    "GetPublicKey": {"KeyId", "GrantTokens"},
    "GenerateMac": {"Message", "KeyId", "MacAlgorithm", "GrantTokens", "DryRun"},
    "VerifyMac": {"Message", "KeyId", "MacAlgorithm", "Mac", "GrantTokens", "DryRun"},
    "GenerateDataKeyPair": {"EncryptionContext", "KeyId", "KeyPairSpec", "GrantTokens",
                            "DryRun"},
    "GenerateDataKeyPairWithoutPlaintext": {"EncryptionContext", "KeyId", "KeyPairSpec",
                                            "GrantTokens", "DryRun"},
    "DeriveSharedSecret": {"KeyId", "KeyAgreementAlgorithm", "PublicKey", "GrantTokens",
                           "DryRun"},
}


def refusal(op, member):
    return f"the parameter `{member}` of `{op}` is not supported by keyward"


def sample(shape):
    """A value of the right shape, so that only the member's presence matters."""
    kind = shape.type_name
    if kind == "structure":
        return {name: sample(member) for name, member in shape.members.items()}
    if kind == "list":
        return [sample(shape.member)]
    if kind == "map":
        return {"k": sample(shape.value)}
    if kind == "string":
        return shape.enum[0] if shape.enum else "x"
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"x"
    if kind == "timestamp":
        return datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    raise AssertionError(f"no sample for a {kind}")


@pytest.fixture(scope="module")
def raw(keyward):
    # Client-side validation off: the point is what the server does with each
    # member on its own.
    return keyward.client(
        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1})
    )


def call(client, op, params):
    methods = {api: method for method, api in client.meta.method_to_api_mapping.items()}
    return getattr(client, methods[op])(**params)


def test_every_member_of_the_model_is_implemented_or_refused_by_name(raw):
    model = raw.meta.service_model
    served = set(IMPLEMENTED)
    checked = 0
    for op in model.operation_names:
        shape = model.operation_model(op).input_shape
        if op not in served:
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call(raw, op, {})
            assert e.value.response["Error"]["Code"] == "UnknownOperationException", op
            continue
        for name, member in shape.members.items():
            checked += 1
            try:
                call(raw, op, {name: sample(member)})
                refused = False
            except botocore.exceptions.ClientError as error:
                message = error.response["Error"].get("Message", "")
                refused = (
                    error.response["Error"]["Code"] == "UnsupportedOperationException"
                    and refusal(op, name) in message
                )
            if name in IMPLEMENTED[op]:
                assert not refused, f"{op}.{name} is implemented but was refused"
            else:
                assert refused, f"{op}.{name} is not implemented but was not refused"
    assert checked > 100
    assert served <= set(model.operation_names)


def test_recipient_never_gets_a_plaintext(kms):
    """`Recipient` asks for secrets only encrypted to an attested enclave.
    keyward has no attestation, so it refuses, and no plaintext comes back."""
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
    recipient = {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"doc"}
    calls = [
        ("decrypt", dict(CiphertextBlob=blob)),
        ("generate_data_key", dict(KeyId=key, KeySpec="AES_256")),
        ("generate_random", dict(NumberOfBytes=32)),
        ("generate_data_key_pair", dict(KeyId=key, KeyPairSpec="ECC_NIST_P256")),
        ("derive_shared_secret", dict(KeyId=key, KeyAgreementAlgorithm="ECDH",
                                      PublicKey=b"peer")),
    ]
    for method, params in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            getattr(kms, method)(Recipient=recipient, **params)
        response = e.value.response
        assert response["Error"]["Code"] == "UnsupportedOperationException", method
        assert "`Recipient`" in response["Error"]["Message"]
        assert "Plaintext" not in response and "CiphertextForRecipient" not in response
        assert "PrivateKeyPlaintext" not in response and "SharedSecret" not in response
    # Nothing was half-done: the key still decrypts as before.
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
