#!/usr/bin/python3
"""Writes encryption.json beside this file: end-to-end encryption vectors made with pycryptodome
(Debian: python3-pycryptodome), independently of the TypeScript code they test.

Format: $aes-256-cbc/pbkdf2-sha1$i=<iterations>$<base64 salt>$<base64 ciphertext>, where
key = PBKDF2-HMAC-SHA1(passphrase, salt, iterations, 32 bytes), IV = the 16-byte salt, PKCS#7 padding.
Salts are fixed so that the file is the same on every run: python3 test/vectors/encryption.py
"""
import base64
import json
import os

from Cryptodome.Cipher import AES
from Cryptodome.Hash import SHA1
from Cryptodome.Protocol.KDF import PBKDF2
from Cryptodome.Util.Padding import pad, unpad


def key_of(passphrase, salt, iterations):
    return PBKDF2(passphrase.encode("utf-8"), salt, dkLen=32, count=iterations, hmac_hash_module=SHA1)


def encrypt(plaintext, passphrase, salt, iterations):
    cipher = AES.new(key_of(passphrase, salt, iterations), AES.MODE_CBC, iv=salt)
    data = cipher.encrypt(pad(plaintext.encode("utf-8"), AES.block_size))
    return "$aes-256-cbc/pbkdf2-sha1$i=%d$%s$%s" % (
        iterations,
        base64.b64encode(salt).decode(),
        base64.b64encode(data).decode(),
    )


def fails_with(value, passphrase):
    """True when decrypting with this passphrase fails on the padding (as a wrong passphrase should)."""
    _, _, params, salt, data = value.split("$")
    salt = base64.b64decode(salt)
    cipher = AES.new(key_of(passphrase, salt, int(params[2:])), AES.MODE_CBC, iv=salt)
    try:
        unpad(cipher.decrypt(base64.b64decode(data)), AES.block_size)
        return False
    except ValueError:
        return True


PASSPHRASE = "correct horse battery staple"
CASES = [
    ("ascii text", "Hello from smsgate!", PASSPHRASE, 75000),
    ("a phone number", "+15550002222", PASSPHRASE, 75000),
    ("sixteen bytes: a whole block of padding", "0123456789abcdef", PASSPHRASE, 1000),
    ("non-ASCII text", "Привет, мир! 👋 Grüße", PASSPHRASE, 1000),
    ("a data SMS's base64", base64.b64encode(bytes(range(0, 40))).decode(), PASSPHRASE, 1000),
    ("a three-part text", "Long message. " * 30, PASSPHRASE, 1000),
    ("a number the virtual carrier refuses", "+15550000001", PASSPHRASE, 1000),
    ("a non-ASCII passphrase", "Short text", "another passphrase, ünïcödé", 1000),
]

vectors = []
for n, (name, plaintext, passphrase, iterations) in enumerate(CASES):
    salt = bytes((n * 17 + i * 5) % 256 for i in range(16))
    vectors.append(
        {
            "name": name,
            "passphrase": passphrase,
            "plaintext": plaintext,
            "encrypted": encrypt(plaintext, passphrase, salt, iterations),
        }
    )
wrong = "not the passphrase"
for v in vectors:
    # a wrong passphrase that the padding check catches, for every vector
    assert fails_with(v["encrypted"], wrong), v["name"]
    v["wrongPassphrase"] = wrong

out = {
    "description": (
        "End-to-end encryption vectors: $aes-256-cbc/pbkdf2-sha1$i=<iterations>$<base64 salt>$<base64 ciphertext>, "
        "key = PBKDF2-HMAC-SHA1(UTF-8 passphrase, salt, iterations, 32 bytes), IV = the salt, PKCS#7 padding. "
        "Made by encryption.py with pycryptodome, independently of the TypeScript code they test; decrypting "
        "with wrongPassphrase fails on the padding."
    ),
    "vectors": vectors,
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "encryption.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=2)
    f.write("\n")
