"""Asymmetric and HMAC keys through boto3, checked against Python's
`cryptography`: keyward's signatures verify there, RSA-OAEP ciphertexts made
there decrypt in keyward, HMACs over an imported key match `hmac`, ECDH
matches a local exchange, and data key pairs open to their private key. The
AWS CLI signs and verifies with `fileb://` and `--outfile`."""

import hashlib
import hmac
import os
import subprocess

import botocore.exceptions
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}

SIGNING = [
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("RSA_2048", "RSASSA_PSS_SHA_384"),
    ("RSA_2048", "RSASSA_PSS_SHA_512"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
]


def error_code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"].get("Message", "")


def verify_with_cryptography(public_der, algorithm, message):
    """A verifier for `algorithm` from `cryptography` alone."""
    public = serialization.load_der_public_key(public_der)
    if algorithm == "ED25519_SHA_512":
        return lambda signature: public.verify(signature, message)
    digest = HASHES[algorithm[-3:]]()
    if algorithm.startswith("ECDSA"):
        return lambda signature: public.verify(signature, message, ec.ECDSA(digest))
    if algorithm.startswith("RSASSA_PSS"):
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        return lambda signature: public.verify(signature, message, pss, digest)
    return lambda signature: public.verify(signature, message, padding.PKCS1v15(), digest)


@pytest.fixture(scope="module")
def signing_keys(keyward):
    kms = keyward.client()
    specs = {spec for spec, _ in SIGNING}
    return {
        spec: kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        for spec in specs
    }


@pytest.mark.parametrize("spec,algorithm", SIGNING)
def test_signatures_verify_with_cryptography(kms, signing_keys, spec, algorithm):
    key = signing_keys[spec]
    described = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert algorithm in described["SigningAlgorithms"]
    assert "EncryptionAlgorithms" not in described
    public = kms.get_public_key(KeyId=key)
    assert public["KeySpec"] == spec and public["KeyUsage"] == "SIGN_VERIFY"
    message = b"signed by keyward, checked by cryptography"
    signature = kms.sign(KeyId=key, Message=message, SigningAlgorithm=algorithm)["Signature"]
    verify = verify_with_cryptography(public["PublicKey"], algorithm, message)
    verify(signature)
    with pytest.raises(InvalidSignature):
        verify(signature[:-1] + bytes([signature[-1] ^ 1]))
    assert kms.verify(KeyId=key, Message=message, Signature=signature,
                      SigningAlgorithm=algorithm)["SignatureValid"]
    if algorithm != "ED25519_SHA_512":
        # The same signature over the digest, sent as DIGEST.
        digest = hashlib.new("sha" + algorithm[-3:], message).digest()
        signed = kms.sign(KeyId=key, Message=digest, MessageType="DIGEST",
                          SigningAlgorithm=algorithm)["Signature"]
        verify(signed)
    code, message_text = error_code(lambda: kms.verify(
        KeyId=key, Message=b"another message", Signature=signature, SigningAlgorithm=algorithm))
    assert (code, message_text) == ("KMSInvalidSignatureException", "")


def test_ed25519ph_signs_a_sha512_digest(kms, signing_keys):
    key = signing_keys["ECC_NIST_EDWARDS25519"]
    digest = hashlib.sha512(b"prehashed").digest()
    signature = kms.sign(KeyId=key, Message=digest, MessageType="DIGEST",
                         SigningAlgorithm="ED25519_PH_SHA_512")["Signature"]
    assert len(signature) == 64
    assert kms.verify(KeyId=key, Message=digest, MessageType="DIGEST", Signature=signature,
                      SigningAlgorithm="ED25519_PH_SHA_512")["SignatureValid"]


def test_signatures_made_outside_verify_in_keyward(kms):
    """A key made by `cryptography`, imported, verifies its own signatures."""
    private = ec.generate_private_key(ec.SECP256K1())
    key = import_private_key(kms, private, "ECC_SECG_P256K1", "SIGN_VERIFY")
    message = b"signed outside"
    signature = private.sign(message, ec.ECDSA(hashes.SHA256()))
    assert kms.verify(KeyId=key, Message=message, Signature=signature,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
    ours = kms.sign(KeyId=key, Message=message, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(ours, message, ec.ECDSA(hashes.SHA256()))
    edwards = ed25519.Ed25519PrivateKey.generate()
    key = import_private_key(kms, edwards, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    assert kms.verify(KeyId=key, Message=message, Signature=edwards.sign(message),
                      SigningAlgorithm="ED25519_SHA_512")["SignatureValid"]


def import_material(kms, key, material, algorithm="RSA_AES_KEY_WRAP_SHA_256"):
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm=algorithm,
                                           WrappingKeySpec="RSA_2048")
    wrapping = serialization.load_der_public_key(params["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    if algorithm == "RSA_AES_KEY_WRAP_SHA_256":
        aes_key = os.urandom(32)
        wrapped = wrapping.encrypt(aes_key, oaep) + aes_key_wrap_with_padding(aes_key, material)
    else:
        wrapped = wrapping.encrypt(material, oaep)
    kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"],
                            EncryptedKeyMaterial=wrapped,
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")


def import_private_key(kms, private, spec, usage):
    key = kms.create_key(KeySpec=spec, KeyUsage=usage, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    import_material(kms, key, der)
    return key


def test_rsa_oaep_from_cryptography_decrypts_in_keyward(kms):
    key = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    for algorithm, digest, limit in [("RSAES_OAEP_SHA_1", hashes.SHA1, 342),
                                     ("RSAES_OAEP_SHA_256", hashes.SHA256, 318)]:
        oaep = padding.OAEP(mgf=padding.MGF1(digest()), algorithm=digest(), label=None)
        ciphertext = public.encrypt(b"offline secret", oaep)
        out = kms.decrypt(KeyId=key, CiphertextBlob=ciphertext, EncryptionAlgorithm=algorithm)
        assert out["Plaintext"] == b"offline secret"
        assert out["EncryptionAlgorithm"] == algorithm
        code, text = error_code(lambda: kms.encrypt(
            KeyId=key, Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=algorithm))
        assert (code, text) == (
            "ValidationException",
            f"Algorithm {algorithm} and key spec RSA_3072 cannot encrypt data larger than "
            f"{limit} bytes.")
        assert kms.encrypt(KeyId=key, Plaintext=b"x" * limit,
                           EncryptionAlgorithm=algorithm)["CiphertextBlob"]


def test_hmac_matches_python_hmac_over_an_imported_key(kms):
    material = os.urandom(32)
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                         Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(kms, key, material, algorithm="RSAES_OAEP_SHA_256")
    message = b"authenticate me"
    mac = kms.generate_mac(KeyId=key, Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.new(material, message, hashlib.sha256).digest()
    assert kms.verify_mac(KeyId=key, Message=message, Mac=mac,
                          MacAlgorithm="HMAC_SHA_256")["MacValid"]
    assert error_code(lambda: kms.verify_mac(
        KeyId=key, Message=b"other", Mac=mac, MacAlgorithm="HMAC_SHA_256")) == (
        "KMSInvalidMacException", "")
    assert error_code(lambda: kms.generate_mac(
        KeyId=key, Message=message, MacAlgorithm="HMAC_SHA_512")) == (
        "InvalidKeyUsageException", "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256.")


def test_shared_secret_matches_local_ecdh(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    peer = ec.generate_private_key(ec.SECP384R1())
    peer_der = peer.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=key, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    ours = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), ours)
    assert out["KeyAgreementAlgorithm"] == "ECDH" and out["KeyOrigin"] == "AWS_KMS"
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert error_code(lambda: kms.derive_shared_secret(
        KeyId=key, KeyAgreementAlgorithm="ECDH", PublicKey=other)) == ("ValidationException", "")


def test_data_key_pairs_open_to_their_private_key(kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"use": "pairs"}
    for spec in ["ECC_NIST_P256", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "RSA_2048"]:
        pair = kms.generate_data_key_pair(KeyId=key, KeyPairSpec=spec, EncryptionContext=context)
        private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert public == pair["PublicKey"]
        opened = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"],
                             EncryptionContext=context)
        assert opened["Plaintext"] == pair["PrivateKeyPlaintext"]
        assert pair["KeyPairSpec"] == spec
    without = kms.generate_data_key_pair_without_plaintext(KeyId=key, KeyPairSpec="ECC_NIST_P384")
    assert "PrivateKeyPlaintext" not in without
    assert error_code(lambda: kms.decrypt(CiphertextBlob=without["PrivateKeyCiphertextBlob"],
                                          EncryptionContext=context))[0] == "InvalidCiphertextException"
    assert error_code(lambda: kms.generate_data_key_pair(
        KeyId=key, KeyPairSpec="ECC_NIST_P256", DryRun=True))[0] == "DryRunOperationException"


@pytest.mark.parametrize("call,expected", [
    (lambda kms, keys: kms.sign(KeyId=keys["ECC_NIST_P256"], Message=b"\0" * 31,
                                MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"),
     ("ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256.")),
    (lambda kms, keys: kms.sign(KeyId=keys["ECC_NIST_P256"], Message=b"x" * 4097,
                                SigningAlgorithm="ECDSA_SHA_256"),
     ("ValidationException", None)),
    (lambda kms, keys: kms.sign(KeyId=keys["ECC_NIST_P256"], Message=b"m",
                                SigningAlgorithm="RSASSA_PSS_SHA_256"),
     ("InvalidKeyUsageException",
      "Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256.")),
    (lambda kms, keys: kms.encrypt(KeyId=keys["ECC_NIST_P256"], Plaintext=b"m"),
     ("InvalidKeyUsageException", None)),
    (lambda kms, keys: kms.create_key(KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT"),
     ("ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048")),
    (lambda kms, keys: kms.create_key(KeySpec="HMAC_256"),
     ("ValidationException",
      "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")),
    (lambda kms, keys: kms.create_key(KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY"),
     ("UnsupportedOperationException", None)),
])
def test_bad_input_gets_aws_errors(kms, signing_keys, call, expected):
    code, message = error_code(lambda: call(kms, signing_keys))
    assert code == expected[0]
    if expected[1] is not None:
        assert message == expected[1]
    # The server keeps serving.
    assert kms.generate_random(NumberOfBytes=8)["Plaintext"]


def test_get_public_key_and_sign_refuse_what_does_not_fit(kms):
    hmac_key = kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")
    arn = hmac_key["KeyMetadata"]["Arn"]
    key = hmac_key["KeyMetadata"]["KeyId"]
    assert hmac_key["KeyMetadata"]["MacAlgorithms"] == ["HMAC_SHA_384"]
    assert error_code(lambda: kms.get_public_key(KeyId=key))[0] == "UnsupportedOperationException"
    assert error_code(lambda: kms.sign(KeyId=key, Message=b"m",
                                       SigningAlgorithm="ECDSA_SHA_256")) == (
        "InvalidKeyUsageException",
        f"{arn} key usage is GENERATE_VERIFY_MAC which is not valid for Sign.")
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=signing)
    assert error_code(lambda: kms.sign(KeyId=signing, Message=b"m",
                                       SigningAlgorithm="ECDSA_SHA_256"))[0] == "DisabledException"


def test_the_cli_signs_and_verifies_files(keyward, kms, tmp_path):
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    document = tmp_path / "document"
    document.write_bytes(b"a document on disk")
    signature = tmp_path / "signature"
    aws = ["aws", "kms", "--region", "us-east-1"]
    subprocess.run(aws + ["sign", "--key-id", key, "--message", f"fileb://{document}",
                          "--signing-algorithm", "ECDSA_SHA_256", "--output", "text",
                          "--query", "Signature"],
                   env=keyward.env(), check=True, stdout=open(tmp_path / "sig.b64", "wb"))
    import base64
    signature.write_bytes(base64.b64decode((tmp_path / "sig.b64").read_text()))
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    public.verify(signature.read_bytes(), document.read_bytes(), ec.ECDSA(hashes.SHA256()))
    out = subprocess.run(aws + ["verify", "--key-id", key, "--message", f"fileb://{document}",
                                "--signature", f"fileb://{signature}",
                                "--signing-algorithm", "ECDSA_SHA_256", "--output", "text",
                                "--query", "SignatureValid"],
                         env=keyward.env(), check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "True"
