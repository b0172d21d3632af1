"""Schemathesis hook: every approver API request is signed with the device
key the test enrolled (seed in HESO_DEVICE_SEED_HEX), over exactly what is
sent, as heso_receipt::request_auth specifies:

    Ed25519("heso-approver-request/v1" 0x00 ++
        METHOD "\\n" PATH_AND_QUERY "\\n" TIMESTAMP "\\n" NONCE "\\n" hex(BLAKE3(body)))

The signature is made by a `requests` auth, which runs once the request is
prepared: the target and body it signs are the ones on the wire.
"""

import base64
import os
import secrets
import time

import blake3
import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DOMAIN = b"heso-approver-request/v1"
DEVICE = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(os.environ["HESO_DEVICE_SEED_HEX"]))
DEVICE_PUBLIC_B64 = base64.b64encode(
    DEVICE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()


class DeviceSignature(requests.auth.AuthBase):
    def __call__(self, request):
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = str(int(time.time()))
        # Fresh per request: the server accepts each signature once.
        nonce = secrets.token_hex(16)
        statement = "\n".join(
            [request.method.upper(), request.path_url, timestamp, nonce, blake3.blake3(body).hexdigest()]
        ).encode()
        signature = DEVICE.sign(DOMAIN + b"\x00" + statement)
        request.headers["x-heso-approver-key"] = DEVICE_PUBLIC_B64
        request.headers["x-heso-timestamp"] = timestamp
        request.headers["x-heso-nonce"] = nonce
        request.headers["x-heso-signature"] = base64.b64encode(signature).decode()
        return request


@schemathesis.hook
def before_call(context, case, kwargs):
    # A case without the signature header is testing that the server
    # refuses an unsigned request: left unsigned.
    headers = {name.lower() for name in (case.headers or {})}
    if case.operation.path.startswith("/v1/approver/") and "x-heso-signature" in headers:
        kwargs["auth"] = DeviceSignature()


@schemathesis.hook
def after_call(context, case, response):
    # What each operation answered, for the test to see that signed and
    # API-key requests got through at all (a run refused everywhere would
    # conform too).
    with open(os.environ["HESO_SCHEMATHESIS_CALLS"], "a") as calls:
        calls.write(f"{case.method.upper()} {case.operation.path} {response.status_code}\n")
