"""Unmodified AWS clients against keyward: boto3, the AWS CLI and the AWS
Encryption SDK, changed only in their endpoint."""

import base64
import datetime
import json
import os
import subprocess

import boto3
import botocore.exceptions
import botocore.session
import pytest

from conftest import Keyward


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def new_key(kms, description="boto3"):
    return kms.create_key(Description=description)["KeyMetadata"]


def test_create_describe_and_list_keys(kms):
    created = [new_key(kms, f"key {i}") for i in range(3)]
    meta = created[0]
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:111122223333:key/{meta['KeyId']}"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["CreationDate"].year >= 2024
    described = kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]
    assert described["Description"] == "key 0"

    seen, marker = [], None
    while True:
        page = kms.list_keys(Limit=1, **({"Marker": marker} if marker else {}))
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert {k["KeyId"] for k in created} <= set(seen)
    assert len(seen) == len(set(seen))
    # The paginator the SDK ships agrees.
    paged = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}) for k in p["Keys"]]
    assert paged == seen


def test_encrypt_decrypt_and_context_binding(kms):
    key = new_key(kms)["KeyId"]
    for size in (1, 32, 4096):
        plaintext = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        blob = kms.encrypt(KeyId=key, Plaintext=plaintext, EncryptionContext={"app": "py"})["CiphertextBlob"]
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "py"})
        assert out["Plaintext"] == plaintext
        assert out["KeyId"].endswith(key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "other"})
    assert code(e) == "InvalidCiphertextException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, KeyId=new_key(kms)["KeyId"], EncryptionContext={"app": "py"})
    assert code(e) == "IncorrectKeyException"


def test_re_encrypt_and_data_keys(kms):
    a, b = new_key(kms)["KeyId"], new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=a, Plaintext=b"move me")["CiphertextBlob"]
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=b, DestinationEncryptionContext={"k": "v"})
    assert moved["SourceKeyId"].endswith(a) and moved["KeyId"].endswith(b)
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"k": "v"})["Plaintext"] == b"move me"

    dk = kms.generate_data_key(KeyId=a, KeySpec="AES_128")
    assert len(dk["Plaintext"]) == 16
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    dk = kms.generate_data_key(KeyId=a, NumberOfBytes=64)
    assert len(dk["Plaintext"]) == 64
    wp = kms.generate_data_key_without_plaintext(KeyId=a, KeySpec="AES_256")
    assert "Plaintext" not in wp
    assert len(kms.decrypt(CiphertextBlob=wp["CiphertextBlob"])["Plaintext"]) == 32
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda kms: kms.encrypt(KeyId="alias/nope", Plaintext=b"x"), "NotFoundException"),
        (lambda kms: kms.describe_key(KeyId="00000000-0000-0000-0000-000000000000"), "NotFoundException"),
        (lambda kms: kms.encrypt(KeyId=new_key(kms)["KeyId"], Plaintext=b"x" * 4097), "ValidationException"),
        (lambda kms: kms.generate_random(NumberOfBytes=1025), "ValidationException"),
        (lambda kms: kms.generate_data_key(KeyId=new_key(kms)["KeyId"], NumberOfBytes=0), "ValidationException"),
        (
            lambda kms: kms.generate_data_key(KeyId=new_key(kms)["KeyId"], NumberOfBytes=16, KeySpec="AES_256"),
            "ValidationException",
        ),
        (lambda kms: kms.decrypt(CiphertextBlob=b"not a ciphertext"), "InvalidCiphertextException"),
        (lambda kms: kms.list_keys(Marker="bogus"), "InvalidMarkerException"),
        (lambda kms: kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY"), "UnsupportedOperationException"),
        (lambda kms: kms.create_key(KeySpec="RSA_2048"), "ValidationException"),
    ],
)
def test_bad_input_gets_aws_error_codes(kms, call, expected):
    # boto3 validates some ranges client-side; those never reach the server.
    with pytest.raises((botocore.exceptions.ClientError, botocore.exceptions.ParamValidationError)) as e:
        call(kms)
    if isinstance(e.value, botocore.exceptions.ClientError):
        assert code(e) == expected


def test_every_bit_flip_is_invalid_ciphertext(kms):
    key = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"flip")["CiphertextBlob"]
    for bit in range(0, len(blob) * 8, 7):
        bad = bytearray(blob)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kms.decrypt(CiphertextBlob=bytes(bad))
        assert code(e) == "InvalidCiphertextException"


def test_aws_cli_round_trips_a_file(keyward, tmp_path):
    env = keyward.env()
    def aws(*args):
        out = subprocess.run(["aws", "kms", *args, "--output", "json"], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)
    key = aws("create-key", "--description", "cli")["KeyMetadata"]["KeyId"]
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 4)
    blob = aws("encrypt", "--key-id", key, "--plaintext", f"fileb://{source}",
               "--encryption-context", "purpose=cli")["CiphertextBlob"]
    sealed = tmp_path / "sealed.bin"
    sealed.write_bytes(base64.b64decode(blob))
    plain = aws("decrypt", "--ciphertext-blob", f"fileb://{sealed}", "--encryption-context", "purpose=cli")["Plaintext"]
    assert base64.b64decode(plain) == source.read_bytes()
    # Errors come back with their AWS names.
    out = subprocess.run(["aws", "kms", "describe-key", "--key-id", "alias/missing"], env=env,
                         capture_output=True, text=True)
    # AWS CLI v1 exits 255 on a service error, v2 254.
    assert out.returncode in (254, 255) and "NotFoundException" in out.stderr


def test_encryption_sdk_encrypts_and_decrypts_through_keyward(keyward, kms):
    import aws_encryption_sdk
    from aws_encryption_sdk import CommitmentPolicy
    from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider

    arn = new_key(kms, "esdk")["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    provider = StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=botocore.session.Session())
    message = b"a message larger than KMS's 4 KiB limit " * 1000
    ciphertext, header = client.encrypt(source=message, key_provider=provider, encryption_context={"tenant": "acme"})
    assert header.encryption_context["tenant"] == "acme"
    plaintext, decrypt_header = client.decrypt(source=ciphertext, key_provider=provider)
    assert plaintext == message
    assert decrypt_header.encryption_context["tenant"] == "acme"


def test_tls_with_the_self_signed_certificate():
    server = Keyward(tls=True)
    try:
        assert server.endpoint.startswith("https://localhost:")
        kms = server.client()
        key = new_key(kms, "tls")["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"over tls")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over tls"
        # Without trusting the certificate, the client refuses the server.
        untrusting = server.session().client("kms", endpoint_url=server.endpoint)
        with pytest.raises(botocore.exceptions.SSLError):
            untrusting.list_keys()
    finally:
        server.stop()


def test_wrong_secret_is_rejected(keyward):
    client = boto3.client(
        "kms", region_name="us-east-1", endpoint_url=keyward.endpoint,
        aws_access_key_id="AKIAUNKNOWNUNKNOWN12", aws_secret_access_key="x" * 40,
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.list_keys()
    assert code(e) == "UnrecognizedClientException"


def test_key_policies_and_grants(keyward, kms):
    key = new_key(kms, "grants")["KeyId"]
    names = kms.list_key_policies(KeyId=key)["PolicyNames"]
    assert names == ["default"]
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}

    # A malformed Cedar policy is refused with Cedar's diagnostics.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy="permit (principal action, resource);")
    assert code(e) == "MalformedPolicyDocumentException"
    # A policy that would lock the caller out is refused...
    lockout = 'permit (principal == Account::"111122223333", action == Action::"Encrypt", resource);'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=lockout)
    assert code(e) == "MalformedPolicyDocumentException"
    # ...and a good one is stored.
    good = '@id("root") permit (principal == Account::"111122223333", action, resource);\n@id("app") permit (principal == Role::"arn:aws:iam::111122223333:role/app", action == Action::"DescribeKey", resource);'
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=good)
    assert "role/app" in kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]

    grant = kms.create_grant(
        KeyId=key,
        GranteePrincipal="arn:aws:iam::111122223333:role/app",
        RetiringPrincipal="arn:aws:iam::111122223333:root",
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"tenant": "acme"}},
        Name="app",
    )
    again = kms.create_grant(
        KeyId=key,
        GranteePrincipal="arn:aws:iam::111122223333:role/app",
        RetiringPrincipal="arn:aws:iam::111122223333:root",
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"tenant": "acme"}},
        Name="app",
    )
    assert again["GrantId"] == grant["GrantId"]
    listed = kms.list_grants(KeyId=key)["Grants"]
    assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
    assert listed[0]["Constraints"] == {"EncryptionContextSubset": {"tenant": "acme"}}
    retirable = kms.list_retirable_grants(RetiringPrincipal="arn:aws:iam::111122223333:root")["Grants"]
    assert grant["GrantId"] in [g["GrantId"] for g in retirable]
    kms.retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=key)["Grants"] == []

    second = kms.create_grant(KeyId=key, GranteePrincipal="arn:aws:iam::111122223333:role/app", Operations=["Decrypt"])
    kms.revoke_grant(KeyId=key, GrantId=second["GrantId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.revoke_grant(KeyId=key, GrantId=second["GrantId"])
    assert code(e) == "InvalidGrantIdException"


def test_json_key_policies_are_enforced(kms):
    key = new_key(kms, "json policy")["KeyId"]
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "OnlyForDemo", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:EncryptionContext:app": "demo"}}},
        ],
    }, indent=2)
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
    assert kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"] == policy
    kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "demo"})
    # The explicit Deny wins over the root's Allow, and an absent context
    # key satisfies StringNotEquals, as in IAM.
    for context in ({"app": "other"}, {}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext=context)
        assert code(e) == "AccessDeniedException"
        assert "OnlyForDemo" in e.value.response["Error"]["Message"]
    # Bad documents are refused and leave the policy as it was.
    for bad, fault in [
        ('{"Statement": [{"Principal": "*", "Action": "kms:*", "Resource": "*"}]}', "missing `Effect`"),
        ('{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", '
         '"Condition": {"StringSometimes": {"aws:username": "x"}}}]}', "unknown condition operator"),
        ('{"Statement": [', "not valid JSON"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=bad)
        assert code(e) == "MalformedPolicyDocumentException"
        assert fault in e.value.response["Error"]["Message"]
    assert kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"] == policy


def test_json_key_policies_with_a_second_principal():
    root = {"access_key_id": "AKIAKEYWARDPYROOT001", "secret_access_key": "py-root-secret-0123456789abcdefghijklmno",
            "principal": "arn:aws:iam::111122223333:root"}
    alice = {"access_key_id": "AKIAKEYWARDPYALICE01", "secret_access_key": "py-alice-secret-0123456789abcdefghijklm",
             "principal": "arn:aws:iam::111122223333:user/alice", "tags": {"team": "payments"}}
    server = Keyward(identities=[root, alice])
    try:
        kms = server.client()
        as_alice = server.client_as(alice["access_key_id"], alice["secret_access_key"])
        key = kms.create_key(Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                 "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
                {"Sid": "PaymentsTeamEncrypts", "Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
                 "Condition": {"StringEquals": {"aws:PrincipalTag/team": "payments",
                                                "kms:EncryptionContext:team": "${aws:PrincipalTag/team}"}}},
                {"Sid": "NeverDecryptOldData", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
                 "Resource": "*", "Condition": {"StringLike": {"kms:EncryptionContext:generation": "old-*"}}},
            ],
        }))["KeyMetadata"]["KeyId"]
        blob = as_alice.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"team": "payments"})["CiphertextBlob"]
        assert as_alice.decrypt(CiphertextBlob=blob, EncryptionContext={"team": "payments"})["Plaintext"] == b"x"
        # The condition ties the context to her own tag.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            as_alice.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"team": "other"})
        assert code(e) == "AccessDeniedException"
        # Only what the statement names.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            as_alice.describe_key(KeyId=key)
        assert code(e) == "AccessDeniedException"
        # The Deny overrides her Allow and the root's.
        old = {"team": "payments", "generation": "old-2019"}
        old_blob = as_alice.encrypt(KeyId=key, Plaintext=b"y", EncryptionContext=old)["CiphertextBlob"]
        for client in (as_alice, kms):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                client.decrypt(CiphertextBlob=old_blob, EncryptionContext=old)
            assert code(e) == "AccessDeniedException"
            assert "NeverDecryptOldData" in e.value.response["Error"]["Message"]
    finally:
        server.stop()


def test_states_aliases_and_tags(kms):
    key = kms.create_key(Description="lifecycle", Tags=[{"TagKey": "team", "TagValue": "payments"}])["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert code(e) == "DisabledException"
    kms.enable_key(KeyId=key)
    kms.update_key_description(KeyId=key, Description="renamed")
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["Description"] == "renamed"

    kms.create_alias(AliasName="alias/py-lifecycle", TargetKeyId=key)
    blob = kms.encrypt(KeyId="alias/py-lifecycle", Plaintext=b"via alias")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"via alias"
    aliases = kms.list_aliases(KeyId=key)["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/py-lifecycle"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_alias(AliasName="alias/aws/py", TargetKeyId=key)
    assert code(e) == "InvalidAliasNameException"
    other = new_key(kms)["KeyId"]
    kms.update_alias(AliasName="alias/py-lifecycle", TargetKeyId=other)
    assert kms.describe_key(KeyId="alias/py-lifecycle")["KeyMetadata"]["KeyId"] == other
    kms.delete_alias(AliasName="alias/py-lifecycle")

    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "env", "TagValue": "prod"}])
    tags = kms.list_resource_tags(KeyId=key)["Tags"]
    assert {t["TagKey"]: t["TagValue"] for t in tags} == {"team": "payments", "env": "prod"}
    kms.untag_resource(KeyId=key, TagKeys=["env"])
    assert [t["TagKey"] for t in kms.list_resource_tags(KeyId=key)["Tags"]] == ["team"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.tag_resource(KeyId=key, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    assert code(e) == "TagException"


def test_schedule_and_cancel_key_deletion(kms):
    key = new_key(kms, "deletion")["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=31)
    assert code(e) == "ValidationException"
    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert code(e) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"


def test_rotation(kms):
    key = new_key(kms, "rotation")["KeyId"]
    old = kms.encrypt(KeyId=key, Plaintext=b"before rotation")["CiphertextBlob"]
    # boto3 checks the range itself; past 2560 the server answers.
    with pytest.raises(botocore.exceptions.ParamValidationError):
        kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=89)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=2561)
    assert code(e) == "ValidationException"
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 180 and "NextRotationDate" in status
    kms.rotate_key_on_demand(KeyId=key)
    rotations = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    new = kms.encrypt(KeyId=key, Plaintext=b"after rotation")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
    kms.disable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False


def _wrap_for_import(public_key_der, algorithm, material):
    """Wrap key material the way AWS documents for each algorithm, with the
    `cryptography` package (what OpenSSL users do on the command line)."""
    from cryptography.hazmat.primitives import hashes, keywrap, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    public = serialization.load_der_public_key(public_key_der)
    digest = hashes.SHA256() if algorithm.endswith("SHA_256") else hashes.SHA1()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)
    return public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, material)


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_256"])
def test_imported_key_material_from_the_cryptography_package(kms, algorithm):
    key = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    key_id = key["KeyId"]
    material = os.urandom(32)

    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
    )
    assert params["ParametersValidTo"] > datetime.datetime.now(datetime.timezone.utc)
    wrapped = _wrap_for_import(params["PublicKey"], algorithm, material)
    valid_to = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled"
    assert meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((meta["ValidTo"] - valid_to).total_seconds()) < 1
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"byok")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"

    # Different material is refused; after deletion the same material
    # brings the old ciphertext back.
    kms.delete_imported_key_material(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert code(e) == "KMSInvalidStateException"
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.import_key_material(
            KeyId=key_id,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=_wrap_for_import(params["PublicKey"], algorithm, os.urandom(32)),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code(e) == "IncorrectKeyMaterialException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.import_key_material(
            KeyId=key_id,
            ImportToken=b"forged" * 10,
            EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert code(e) == "InvalidImportTokenException"
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=_wrap_for_import(params["PublicKey"], algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"
    assert "ValidTo" not in kms.describe_key(KeyId=key_id)["KeyMetadata"]
