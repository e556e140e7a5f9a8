"""Django-free DICOM handling for the teaching archive.

``reading`` parses and validates uploads, ``deidentify`` applies the DICOM PS3.15 Annex E
profile, ``render`` turns frames into 8-bit images; ``errors.RejectedFile`` is what all of
them raise for a file that cannot be accepted.
"""
