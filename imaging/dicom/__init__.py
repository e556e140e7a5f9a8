"""Django-free DICOM handling for the teaching archive.

``reading`` parses and validates uploads; ``deidentify`` keeps what ``keep_list`` names and applies
the DICOM PS3.15 Annex E profile (``annex_e``) to the rest, and ``pixel_cleaning`` takes out what
hides in the pixel data; ``render`` turns frames into 8-bit images; ``errors.RejectedFile`` is what
they raise for a file that cannot be accepted.
"""
