"""Terraform's AWS provider manages keyward's keys: `aws_kms_key` with and
without a policy, `aws_kms_alias`, `aws_kms_grant`, and `aws_kms_ciphertext`
read back through the `aws_kms_secrets` data source. A second plan shows no
drift and destroy succeeds. Needs terraform and an offline mirror of the
`hashicorp/aws` provider; the test skips, and says why, where they are
missing."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Keyward

PROVIDER = "registry.terraform.io/hashicorp/aws"
VERSION = "5.100.0"


def provider_mirror():
    """The folder holding the provider: $KEYWARD_TF_MIRROR, or a folder named
    tf-plugins at most three levels below /."""
    given = os.environ.get("KEYWARD_TF_MIRROR")
    candidates = [Path(given)] if given else []
    for pattern in ("tf-plugins", "*/tf-plugins", "*/*/tf-plugins"):
        candidates += sorted(Path("/").glob(pattern))
    for candidate in candidates:
        if (candidate / PROVIDER / VERSION).is_dir():
            return candidate
    return None


CONFIG = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "%(version)s" }
  }
}
provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    kms = "%(endpoint)s"
  }
}
resource "aws_kms_key" "plain" {
  description             = "terraform without a policy"
  deletion_window_in_days = 7
}
resource "aws_kms_key" "with_policy" {
  description             = "terraform with a policy"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  tags                    = { team = "payments" }
  policy                  = jsonencode(%(policy)s)
}
resource "aws_kms_alias" "plain" {
  name          = "alias/terraform-plain"
  target_key_id = aws_kms_key.plain.key_id
}
resource "aws_kms_grant" "app" {
  name              = "terraform-grant"
  key_id            = aws_kms_key.plain.key_id
  grantee_principal = "arn:aws:iam::111122223333:role/app"
  operations        = ["Encrypt", "Decrypt", "GenerateDataKey"]
  constraints {
    encryption_context_equals = { app = "tf" }
  }
}
resource "aws_kms_ciphertext" "secret" {
  key_id    = aws_kms_alias.plain.target_key_id
  plaintext = "hello from terraform"
  context   = { app = "tf" }
}
data "aws_kms_secrets" "secret" {
  secret {
    name    = "greeting"
    payload = aws_kms_ciphertext.secret.ciphertext_blob
    context = { app = "tf" }
  }
}
output "greeting" {
  value     = data.aws_kms_secrets.secret.plaintext["greeting"]
  sensitive = true
}
output "with_policy" {
  value = aws_kms_key.with_policy.key_id
}
output "plain" {
  value = aws_kms_key.plain.key_id
}
"""

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "AppUse", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "tf"}}},
    ],
}


def test_terraform_manages_keys_aliases_grants_and_ciphertexts(tmp_path):
    terraform = shutil.which("terraform")
    mirror = provider_mirror()
    if terraform is None:
        pytest.skip("terraform is not installed on this machine")
    if mirror is None:
        pytest.skip(f"no offline mirror of {PROVIDER} {VERSION} (a tf-plugins folder) on this machine")
    server = Keyward()
    try:
        (tmp_path / "cli.tfrc").write_text(
            'provider_installation {\n'
            f'  filesystem_mirror {{\n    path = "{mirror}"\n    include = ["{PROVIDER}"]\n  }}\n'
            f'  direct {{\n    exclude = ["{PROVIDER}"]\n  }}\n'
            '}\n'
        )
        (tmp_path / "main.tf").write_text(CONFIG % {
            "version": VERSION,
            "endpoint": server.endpoint,
            # HCL takes JSON for an object expression.
            "policy": json.dumps(POLICY),
        })
        env = server.env()
        env.update(TF_CLI_CONFIG_FILE=str(tmp_path / "cli.tfrc"), TF_IN_AUTOMATION="1",
                   CHECKPOINT_DISABLE="1", TF_PLUGIN_CACHE_DIR="")

        def tf(*args, check=True):
            result = subprocess.run([terraform, *args, "-no-color"], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=600)
            if check and result.returncode != 0:
                raise AssertionError(f"terraform {args[0]} failed:\n{result.stdout}\n{result.stderr}")
            return result

        tf("init", "-input=false")
        tf("apply", "-auto-approve", "-input=false")
        assert tf("output", "-raw", "greeting").stdout == "hello from terraform"

        kms = server.client()
        with_policy = tf("output", "-raw", "with_policy").stdout
        plain = tf("output", "-raw", "plain").stdout
        assert json.loads(kms.get_key_policy(KeyId=with_policy, PolicyName="default")["Policy"]) == POLICY
        default = json.loads(kms.get_key_policy(KeyId=plain, PolicyName="default")["Policy"])
        assert default["Statement"][0]["Sid"] == "Enable IAM User Permissions"
        assert kms.get_key_rotation_status(KeyId=with_policy)["KeyRotationEnabled"] is True
        aliases = kms.list_aliases(KeyId=plain)["Aliases"]
        assert [a["AliasName"] for a in aliases] == ["alias/terraform-plain"]
        grants = kms.list_grants(KeyId=plain)["Grants"]
        assert [g["Name"] for g in grants] == ["terraform-grant"]

        # No drift: a second plan has nothing to do.
        plan = tf("plan", "-detailed-exitcode", "-input=false", check=False)
        assert plan.returncode == 0, plan.stdout + plan.stderr

        tf("destroy", "-auto-approve", "-input=false")
        for key in (plain, with_policy):
            assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
        assert kms.list_aliases(KeyId=plain)["Aliases"] == []
        assert kms.list_grants(KeyId=plain)["Grants"] == []
    finally:
        server.stop()
