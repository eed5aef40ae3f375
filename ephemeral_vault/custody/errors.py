"""Every failure custody can report, under one base class.

Messages name the session, the key id or the field at fault — never key material, ciphertext or a data key — so
they are safe to log, to return from an activity, and to land in Temporal history.
"""

from __future__ import annotations


class CustodyError(Exception):
    """Base of every custody failure."""


class KekConfigError(CustodyError):
    """The KEK configuration (environment or PKCS#11 settings) is unusable."""


class KekUnavailableError(CustodyError):
    """The KEK provider could not be reached or refused the operation (token missing, login failed, ...)."""


class UnknownKekIdError(CustodyError):
    """A sealed key names a KEK id that no configured provider holds."""


class KeyShreddedError(CustodyError):
    """The wrapped data key was deleted (crypto-shredding): the secret can never be decrypted again."""


class MalformedSealedKeyError(CustodyError):
    """A stored field has the wrong shape (nonce length, algorithm tag, pubkey text)."""


class DekUnwrapError(CustodyError):
    """The wrapped data key failed authentication: wrong KEK, tampered blob, or a row it does not belong to."""


class SecretDecryptionError(CustodyError):
    """The secret ciphertext failed authentication: tampered, or bound to another session id or pubkey."""


class KeyIntegrityError(CustodyError):
    """The decrypted secret does not derive the recorded ephemeral pubkey."""


class SignerMismatchError(CustodyError, ValueError):
    """The message to sign does not list the session's ephemeral pubkey as a required signer."""
