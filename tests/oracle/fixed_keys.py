"""What the vector scripts share: keys made from a fixed seed (`bytes([i]) * 32`),
signatures with them, and the package's canonical bytes and action hash."""

import base64
import copy
import json

import heso._core as core
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def seed(i):
    return bytes([i]) * 32


def pub(i):
    return core.key_from_seed(seed(i)).public_key_b64()


def sign(i, message):
    """Standard base64 of key i's Ed25519 signature over `message`."""
    signature = Ed25519PrivateKey.from_private_bytes(seed(i)).sign(message)
    return base64.b64encode(signature).decode()


def canonical(content):
    """The canonical bytes the package signs: the content without its hash."""
    content = copy.deepcopy(content)
    content["action_hash"] = ""
    return bytes(core.action_canonical_bytes(json.dumps(content).encode()))


def seal(content):
    content["action_hash"] = core.blake3_hash(canonical(content))
    return content
