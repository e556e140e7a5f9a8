"""Secrets the archive sends on to other servers (a DICOMweb source's password), stored encrypted.

Fernet (the ``cryptography`` package: AES in CBC mode with an HMAC) under a key derived from ``SECRET_KEY``;
they stay readable under any key of ``SECRET_KEY_FALLBACKS``, as Django's own signing does, so rotating
``SECRET_KEY`` the documented way keeps them. A copy of the database without the settings holds none of them.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction

from receiver.models import DicomWebSource

# Keys for this purpose only, whatever else SECRET_KEY signs.
PURPOSE = b"teaching-archive: secrets sent on to other servers"


class UnreadableSecret(Exception):
    """A stored secret that no key of this server decrypts (SECRET_KEY changed without a fallback)."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    return MultiFernet([_fernet(key) for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]])


def secret_encrypt(text: str) -> str:
    """The stored form of `text` ("" stays "")."""
    return _keys().encrypt(text.encode()).decode("ascii") if text else ""


def secret_decrypt(stored: str) -> str:
    """The text of a stored secret; :class:`UnreadableSecret` if no key of this server decrypts it."""
    if not stored:
        return ""
    try:
        return _keys().decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise UnreadableSecret("no key of this server decrypts it") from error


def secrets_rotate() -> int:
    """Encrypt every stored source password again under the current key (all or none); how many."""
    keys = _keys()
    with transaction.atomic():
        sources = list(DicomWebSource.objects.select_for_update().exclude(password_encrypted=""))
        for source in sources:
            try:
                source.password_encrypted = keys.rotate(source.password_encrypted.encode("ascii")).decode(
                    "ascii"
                )
            except (InvalidToken, UnicodeError) as error:
                raise UnreadableSecret(f"the password of the source {source.name!r}") from error
            source.save(update_fields=["password_encrypted"])
    return len(sources)
