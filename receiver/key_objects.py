"""Key Object Selection documents (PS3.3 A.35.4): which instances a PACS user picked, and why.

IHE Teaching File and Clinical Trial Export (TCE) marks the images to send to a teaching file with a
KOS whose document title (*Concept Name Code Sequence*) is "For Teaching" (DCM 113004) or "For
Conference" (DCM 113005). Its *Key Object Description* (DCM 113012) is free text from the PACS user:
read here so that it can be kept away from the image gate and from anything published.
Django-free, like :mod:`imaging.dicom`.
"""

from dataclasses import dataclass, field

from receiver.headers import whole_dataset

#: Document titles (DCM code values) whose referenced instances become a draft's images.
TEACHING_TITLES = {"113004": "For Teaching", "113005": "For Conference"}
_KEY_OBJECT_DESCRIPTION = "113012"
_MAX_DESCRIPTION = 10_000
#: A key object selection lists references and a note: one inflating past this is no such document.
MAX_DOCUMENT_BYTES = 16 << 20


@dataclass
class KeyObjects:
    title_code: str = ""
    title: str = ""
    referenced: set[str] = field(default_factory=set)  # SOP Instance UIDs, as the PACS sent them
    description: str = ""

    @property
    def for_teaching(self) -> bool:
        return self.title_code in TEACHING_TITLES


def _code(item) -> tuple[str, str]:
    sequence = item.get("ConceptNameCodeSequence") or []
    if not sequence:
        return "", ""
    code = sequence[0]
    return str(code.get("CodeValue", "") or ""), str(code.get("CodingSchemeDesignator", "") or "")


def read_key_objects(data: bytes) -> KeyObjects:
    """The title, referenced instances and description of a KOS document; raises on an unreadable one."""
    ds = whole_dataset(data, limit=MAX_DOCUMENT_BYTES)
    value, scheme = _code(ds)
    found = KeyObjects()
    if scheme == "DCM":
        found.title_code, found.title = value, TEACHING_TITLES.get(value, "")
    for evidence in ds.get("CurrentRequestedProcedureEvidenceSequence") or []:
        for series in evidence.get("ReferencedSeriesSequence") or []:
            for sop in series.get("ReferencedSOPSequence") or []:
                found.referenced.add(str(sop.ReferencedSOPInstanceUID).strip())
    texts = []
    for item in ds.get("ContentSequence") or []:
        if item.get("ValueType") == "IMAGE":
            for sop in item.get("ReferencedSOPSequence") or []:
                found.referenced.add(str(sop.ReferencedSOPInstanceUID).strip())
        elif item.get("ValueType") == "TEXT" and _code(item) == (_KEY_OBJECT_DESCRIPTION, "DCM"):
            texts.append(str(item.get("TextValue", "") or ""))
    found.description = "\n\n".join(texts)[:_MAX_DESCRIPTION]
    return found
