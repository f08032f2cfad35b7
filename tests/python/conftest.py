"""Starts `keyward serve` for the interop tests and points AWS clients at it.

The binary is $KEYWARD_BIN (default: target/debug/keyward). Each server runs
in a fresh data directory on an ephemeral port; its development identity is
used through the AWS shared-credentials file it writes (profile `keyward`),
exactly as the README tells a user to.
"""

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("KEYWARD_BIN", str(ROOT / "target" / "debug" / "keyward"))
REGION = "us-east-1"


class Keyward:
    def __init__(self, tls=False, identities=None, prepared_rsa_keys=0):
        """`identities`: the entries of an identities file, the first of
        which becomes the `keyward` profile (default: the development
        identity that `keyward serve` writes)."""
        self.dir = tempfile.TemporaryDirectory(prefix="keyward-py-")
        self.data_dir = Path(self.dir.name) / "data"
        if identities:
            self.data_dir.mkdir(parents=True)
            (self.data_dir / "identities.json").write_text(json.dumps({"identities": identities}))
            first = identities[0]
            (self.data_dir / "credentials").write_text(
                "[keyward]\n"
                f"aws_access_key_id = {first['access_key_id']}\n"
                f"aws_secret_access_key = {first['secret_access_key']}\n"
            )
        # No RSA keys prepared in the background (serve's default is two of
        # each size): the tests use few, and CPU is short in CI.
        args = [BIN, "serve", "--data-dir", str(self.data_dir), "--listen", "127.0.0.1:0",
                "--prepared-rsa-keys", str(prepared_rsa_keys)]
        if tls:
            args.append("--tls-self-signed")
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.endpoint = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            match = re.search(r"serving AWS KMS on (\S+)", line)
            if match:
                self.endpoint = match.group(1)
                break
        if self.endpoint is None:
            self.proc.kill()
            raise RuntimeError("keyward serve did not start: " + self.proc.stderr.read())
        if tls:
            # Clients must name the certificate's host, not the address.
            self.endpoint = self.endpoint.replace("127.0.0.1", "localhost")
        self.cert = self.data_dir / "tls" / "cert.pem"
        self.credentials = self.data_dir / "credentials"

    def env(self):
        env = dict(os.environ)
        env.update(
            AWS_SHARED_CREDENTIALS_FILE=str(self.credentials),
            AWS_PROFILE="keyward",
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL_KMS=self.endpoint,
            AWS_CONFIG_FILE=os.devnull,
        )
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(var, None)
        return env

    def session(self):
        # This server's own development identity, whatever the environment
        # points at.
        import configparser

        profile = configparser.ConfigParser()
        profile.read(self.credentials)
        return boto3.Session(
            aws_access_key_id=profile["keyward"]["aws_access_key_id"],
            aws_secret_access_key=profile["keyward"]["aws_secret_access_key"],
            region_name=REGION,
        )

    def client(self, **kwargs):
        if str(self.endpoint).startswith("https"):
            kwargs.setdefault("verify", str(self.cert))
        return self.session().client("kms", endpoint_url=self.endpoint, **kwargs)

    def client_as(self, access_key_id, secret_access_key):
        """A client of another identity in this server's identities file."""
        session = boto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=REGION,
        )
        return session.client("kms", endpoint_url=self.endpoint)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.dir.cleanup()


@pytest.fixture(scope="module")
def keyward(monkeypatch_module):
    server = Keyward()
    for name, value in server.env().items():
        monkeypatch_module.setenv(name, value)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture
def kms(keyward):
    return keyward.client()
