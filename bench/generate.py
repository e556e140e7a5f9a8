"""Generate a realistic archive for benchmarks: published cases (plus some drafts) with findings,
differential items, tags, regions and two series of images each, written in radiology vocabulary
with British and American spellings mixed, as a real archive written by many hands would be.

Rows are bulk-inserted, which bypasses the models' ``save()`` and every signal; the search documents
are then built by ``cases.search.search_documents_refresh`` and the facet sets and counts by
``cases.facet_rows.case_facets_refresh``, the same code (and the same normalisation) a save uses,
and ``cases.caching.archive_changed`` retires every cached page part.

Images: each case gets one study with ``SERIES_PER_CASE`` series of ``IMAGES_PER_SERIES`` image rows.
The rows point at a handful of small real PNG files (``SHARED_PNGS``), written once to the default
storage under ``images/bench-shared-<n>.png``: many rows, few files, as the issue allows.

    DJANGO_SETTINGS_MODULE=config.settings python bench/generate.py --cases 10000

From another benchmark: ``generate_archive(10_000, drafts=500, seed=1)`` (Django already set up).
"""

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

if __name__ == "__main__":  # run as a script: make the project importable and set Django up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from taggit.models import Tag

from cases.caching import archive_changed
from cases.facet_rows import case_facets_refresh
from cases.models import Case, Diagnosis, DifferentialItem, Finding, Region, TaggedCase
from cases.search import search_documents_refresh
from cases.seed import read_seed, seed_load
from imaging.models import Image, Series, Study

FINDINGS_PER_CASE = 3
DIFFERENTIAL_PER_CASE = 4
TAGS_PER_CASE = 5
REGIONS_PER_CASE = 2
SERIES_PER_CASE = 2
IMAGES_PER_SERIES = 3
SHARED_PNGS = 4
SHARED_PNG_SIZE = 128
SERIES_LABELS = ["Axial", "Coronal", "Sagittal", "Oblique"]

# Words written both ways in real archives: {british} in a template becomes one of the two spellings.
SPELLINGS = {
    "oedema": ("oedema", "edema"),
    "tumour": ("tumour", "tumor"),
    "haemorrhage": ("haemorrhage", "hemorrhage"),
    "haematoma": ("haematoma", "hematoma"),
    "haemorrhagic": ("haemorrhagic", "hemorrhagic"),
    "grey": ("grey", "gray"),
    "centre": ("centre", "center"),
    "oesophagus": ("oesophagus", "esophagus"),
    "oesophageal": ("oesophageal", "esophageal"),
    "leukaemia": ("leukaemia", "leukemia"),
    "anaemia": ("anaemia", "anemia"),
    "paediatric": ("paediatric", "pediatric"),
    "localised": ("localised", "localized"),
    "characterised": ("characterised", "characterized"),
    "haemangioma": ("haemangioma", "hemangioma"),
    "ischaemic": ("ischaemic", "ischemic"),
    "disc": ("disc", "disk"),
    "fibre": ("fibre", "fiber"),
    "calibre": ("calibre", "caliber"),
    "behaviour": ("behaviour", "behavior"),
}


@dataclass(frozen=True)
class DiagnosisSpec:
    name: str
    synonyms: tuple[str, ...]
    regions: tuple[str, ...]
    modalities: tuple[str, ...]
    features: tuple[str, ...]


DIAGNOSES = [
    DiagnosisSpec(
        "Osteosarcoma",
        ("osteogenic sarcoma",),
        ("lower-limb", "upper-limb"),
        ("CR", "MR", "CT"),
        ("sunburst periosteal reaction", "Codman triangle", "mixed lytic and sclerotic matrix"),
    ),
    DiagnosisSpec(
        "Ewing sarcoma",
        ("Ewing's sarcoma", "Ewing tumour", "Ewing tumor"),
        ("lower-limb", "bony-pelvis"),
        ("CR", "MR"),
        ("permeative destruction", "onion-skin periosteal reaction", "large soft-tissue mass"),
    ),
    DiagnosisSpec(
        "Chondrosarcoma",
        (),
        ("bony-pelvis", "upper-limb"),
        ("CR", "CT", "MR"),
        ("ring-and-arc chondroid matrix", "endosteal scalloping", "cortical breach"),
    ),
    DiagnosisSpec(
        "Enchondroma",
        (),
        ("upper-limb", "lower-limb"),
        ("CR", "MR"),
        ("well-defined lytic lesion", "chondroid calcification", "no cortical breach"),
    ),
    DiagnosisSpec(
        "Osteoid osteoma",
        (),
        ("lower-limb", "lumbar-spine"),
        ("CT", "NM", "MR"),
        ("small lucent nidus", "dense reactive sclerosis", "night pain relieved by aspirin"),
    ),
    DiagnosisSpec(
        "Aneurysmal bone cyst",
        ("ABC",),
        ("lower-limb", "thoracic-spine"),
        ("CR", "MR", "CT"),
        ("fluid-fluid levels", "expansile multiloculated lesion", "thin sclerotic rim"),
    ),
    DiagnosisSpec(
        "Non-ossifying fibroma",
        ("NOF", "fibroxanthoma"),
        ("lower-limb",),
        ("CR",),
        ("eccentric cortical lucency", "sclerotic scalloped margin", "metaphyseal location"),
    ),
    DiagnosisSpec(
        "Fibrous dysplasia",
        (),
        ("head-and-neck", "lower-limb"),
        ("CR", "CT"),
        ("ground-glass matrix", "shepherd's crook deformity", "expansile remodelling"),
    ),
    DiagnosisSpec(
        "Multiple myeloma",
        ("myeloma", "plasma cell myeloma"),
        ("thoracic-spine", "head-and-neck"),
        ("CR", "MR", "CT"),
        ("punched-out lytic lesions", "diffuse marrow infiltration", "pathological fracture"),
    ),
    DiagnosisSpec(
        "Langerhans cell histiocytosis",
        ("LCH", "eosinophilic granuloma"),
        ("head-and-neck", "thoracic-spine"),
        ("CR", "MR"),
        ("vertebra plana", "bevelled-edge skull lesion", "geographic lysis"),
    ),
    DiagnosisSpec(
        "Osteomyelitis",
        ("bone infection",),
        ("lower-limb", "upper-limb"),
        ("MR", "CR", "NM"),
        ("marrow {oedema}", "cortical sequestrum", "periosteal reaction", "sinus tract"),
    ),
    DiagnosisSpec(
        "Spondylodiscitis",
        ("discitis", "diskitis", "vertebral osteomyelitis"),
        ("lumbar-spine", "thoracic-spine"),
        ("MR", "CT"),
        ("endplate erosion", "{disc} space fluid", "paravertebral abscess"),
    ),
    DiagnosisSpec(
        "Avascular necrosis of the femoral head",
        ("AVN", "osteonecrosis", "aseptic necrosis"),
        ("bony-pelvis",),
        ("MR", "CR"),
        ("double-line sign", "subchondral crescent", "femoral head collapse"),
    ),
    DiagnosisSpec(
        "Insufficiency fracture of the sacrum",
        ("sacral insufficiency fracture",),
        ("sacrum",),
        ("MR", "CT", "NM"),
        ("Honda sign", "vertical fracture lines through the sacral alae", "marrow {oedema}"),
    ),
    DiagnosisSpec(
        "Paget disease of bone",
        ("Paget's disease", "osteitis deformans"),
        ("bony-pelvis", "head-and-neck"),
        ("CR", "NM"),
        ("cortical thickening", "coarsened trabeculae", "bone enlargement"),
    ),
    DiagnosisSpec(
        "Hepatocellular carcinoma",
        ("HCC", "hepatoma"),
        ("abdomen",),
        ("CT", "MR", "US"),
        ("arterial phase hyperenhancement", "portal venous washout", "enhancing capsule"),
    ),
    DiagnosisSpec(
        "Hepatic haemangioma",
        ("hepatic hemangioma", "liver haemangioma", "liver hemangioma"),
        ("abdomen",),
        ("MR", "CT", "US"),
        ("peripheral nodular enhancement", "centripetal fill-in", "markedly T2 bright"),
    ),
    DiagnosisSpec(
        "Renal cell carcinoma",
        ("RCC", "clear cell carcinoma"),
        ("abdomen",),
        ("CT", "MR"),
        ("heterogeneous enhancing renal mass", "renal vein invasion", "central necrosis"),
    ),
    DiagnosisSpec(
        "Angiomyolipoma",
        ("AML of the kidney",),
        ("abdomen",),
        ("CT", "US", "MR"),
        ("macroscopic fat", "aneurysmal vessels", "India ink artefact"),
    ),
    DiagnosisSpec(
        "Acute appendicitis",
        ("appendicitis",),
        ("abdomen",),
        ("CT", "US"),
        ("dilated appendix", "periappendiceal fat stranding", "appendicolith"),
    ),
    DiagnosisSpec(
        "Small bowel obstruction",
        ("SBO",),
        ("abdomen",),
        ("CT", "CR"),
        ("dilated small bowel loops", "transition point", "small bowel faeces sign"),
    ),
    DiagnosisSpec(
        "Oesophageal carcinoma",
        ("esophageal carcinoma", "oesophageal cancer", "esophageal cancer"),
        ("mediastinum",),
        ("CT", "PT"),
        ("circumferential {oesophageal} wall thickening", "periesophageal nodes"),
    ),
    DiagnosisSpec(
        "Achalasia",
        (),
        ("mediastinum",),
        ("RF", "CT"),
        ("bird-beak narrowing", "dilated {oesophagus}", "absent primary peristalsis"),
    ),
    DiagnosisSpec(
        "Pulmonary embolism",
        ("PE", "pulmonary embolus"),
        ("chest",),
        ("CT", "NM"),
        ("filling defect in the pulmonary arteries", "right ventricular strain", "Hampton hump"),
    ),
    DiagnosisSpec(
        "Sarcoidosis",
        ("sarcoid",),
        ("chest", "mediastinum"),
        ("CT", "CR", "PT"),
        ("symmetrical hilar lymphadenopathy", "perilymphatic nodules", "upper zone fibrosis"),
    ),
    DiagnosisSpec(
        "Pneumothorax",
        (),
        ("chest",),
        ("CR", "CT"),
        ("visible visceral pleural line", "deep sulcus sign", "absent lung markings"),
    ),
    DiagnosisSpec(
        "Thymoma",
        (),
        ("mediastinum",),
        ("CT", "MR"),
        ("anterior mediastinal mass", "lobulated contour", "pleural drop metastases"),
    ),
    DiagnosisSpec(
        "Lymphoma",
        ("lymphomatous infiltration",),
        ("mediastinum", "abdomen"),
        ("CT", "PT"),
        ("bulky confluent lymphadenopathy", "vessel encasement without narrowing", "homogeneous soft tissue"),
    ),
    DiagnosisSpec(
        "Glioblastoma",
        ("GBM", "glioblastoma multiforme"),
        ("brain",),
        ("MR", "CT"),
        (
            "thick irregular ring enhancement",
            "central necrosis",
            "vasogenic {oedema}",
            "crosses the corpus callosum",
        ),
    ),
    DiagnosisSpec(
        "Meningioma",
        (),
        ("brain",),
        ("MR", "CT"),
        ("extra-axial dural-based mass", "dural tail", "adjacent hyperostosis"),
    ),
    DiagnosisSpec(
        "Subdural haematoma",
        ("subdural hematoma", "SDH"),
        ("brain",),
        ("CT", "MR"),
        ("crescentic extra-axial collection", "midline shift", "mixed density {haematoma}"),
    ),
    DiagnosisSpec(
        "Subarachnoid haemorrhage",
        ("subarachnoid hemorrhage", "SAH"),
        ("brain",),
        ("CT",),
        ("blood in the basal cisterns", "sulcal hyperdensity", "hydrocephalus"),
    ),
    DiagnosisSpec(
        "Ischaemic stroke",
        ("ischemic stroke", "cerebral infarction"),
        ("brain",),
        ("CT", "MR"),
        ("restricted diffusion", "loss of grey-white differentiation", "hyperdense artery sign"),
    ),
    DiagnosisSpec(
        "Multiple sclerosis",
        ("MS", "demyelination"),
        ("brain", "cervical-spine"),
        ("MR",),
        ("periventricular ovoid lesions", "Dawson fingers", "juxtacortical lesions"),
    ),
    DiagnosisSpec(
        "Vestibular schwannoma",
        ("acoustic neuroma",),
        ("brain",),
        ("MR",),
        ("enhancing internal auditory canal mass", "ice-cream cone shape", "widened porus acusticus"),
    ),
    DiagnosisSpec(
        "Disc herniation",
        ("disk herniation", "herniated disc", "HNP"),
        ("lumbar-spine", "cervical-spine"),
        ("MR",),
        ("focal {disc} extrusion", "nerve root compression", "thecal sac indentation"),
    ),
    DiagnosisSpec(
        "Spinal epidural haematoma",
        ("epidural hematoma", "spinal epidural hematoma"),
        ("thoracic-spine", "cervical-spine"),
        ("MR",),
        ("biconvex epidural collection", "cord compression"),
    ),
    DiagnosisSpec(
        "Vertebral haemangioma",
        ("vertebral hemangioma",),
        ("thoracic-spine", "lumbar-spine"),
        ("MR", "CT", "CR"),
        ("corduroy striations", "polka-dot sign", "T1 bright fatty lesion"),
    ),
    DiagnosisSpec(
        "Tuberculous spondylitis",
        ("Pott disease", "spinal tuberculosis", "TB spondylitis"),
        ("thoracic-spine",),
        ("MR", "CT"),
        ("subligamentous spread", "large calcified paravertebral abscess", "gibbus"),
    ),
    DiagnosisSpec(
        "Ankylosing spondylitis",
        ("AS", "bamboo spine"),
        ("lumbar-spine", "sacrum"),
        ("CR", "MR"),
        ("bilateral sacroiliitis", "syndesmophytes", "shiny corner sign"),
    ),
    DiagnosisSpec(
        "Developmental dysplasia of the hip",
        ("DDH", "congenital hip dysplasia"),
        ("bony-pelvis",),
        ("US", "CR"),
        ("shallow acetabulum", "decreased alpha angle", "lateral subluxation"),
    ),
    DiagnosisSpec(
        "Slipped capital femoral epiphysis",
        ("SCFE", "slipped upper femoral epiphysis"),
        ("bony-pelvis",),
        ("CR",),
        ("widened physis", "Klein line failure", "posteromedial epiphyseal slip"),
    ),
    DiagnosisSpec(
        "Breast carcinoma",
        ("breast cancer",),
        ("chest-wall",),
        ("MG", "US", "MR"),
        ("spiculated mass", "pleomorphic microcalcifications", "architectural distortion"),
    ),
    DiagnosisSpec(
        "Fibroadenoma",
        (),
        ("chest-wall",),
        ("US", "MG"),
        ("oval circumscribed mass", "wider-than-tall orientation", "popcorn calcification"),
    ),
    DiagnosisSpec(
        "Thyroid nodule",
        ("thyroid adenoma",),
        ("head-and-neck",),
        ("US", "NM"),
        ("solid hypoechoic nodule", "microcalcifications", "taller-than-wide shape"),
    ),
    DiagnosisSpec(
        "Extramedullary haematopoiesis",
        ("extramedullary hematopoiesis", "EMH"),
        ("thoracic-spine", "chest"),
        ("MR", "CT"),
        ("bilateral paravertebral masses", "fat-containing soft tissue", "expanded ribs"),
    ),
    DiagnosisSpec(
        "Leukaemic infiltration",
        ("leukemic infiltration",),
        ("lumbar-spine", "sacrum"),
        ("MR",),
        ("diffuse low T1 marrow signal", "epidural soft tissue"),
    ),
    DiagnosisSpec(
        "Bone metastasis",
        ("bone metastases", "skeletal metastasis", "osseous metastasis"),
        ("thoracic-spine", "bony-pelvis"),
        ("CT", "NM", "MR"),
        ("multiple lytic lesions", "pedicle destruction"),
    ),
    DiagnosisSpec(
        "Giant cell tumour of bone",
        ("giant cell tumor of bone", "GCT", "osteoclastoma"),
        ("lower-limb", "sacrum"),
        ("CR", "MR"),
        ("eccentric epiphyseal lysis", "non-sclerotic margin"),
    ),
    DiagnosisSpec(
        "Chordoma",
        (),
        ("sacrum", "head-and-neck"),
        ("MR", "CT"),
        ("midline destructive sacral mass", "high T2 signal lobules", "soft-tissue component"),
    ),
]

COMPLAINTS = [
    "back pain",
    "a painful swelling",
    "a limp",
    "chest pain",
    "shortness of breath",
    "headache",
    "seizures",
    "abdominal pain",
    "weight loss",
    "a palpable lump",
    "hip pain",
    "knee pain",
    "night pain",
    "neck pain",
    "fever and malaise",
    "haematuria",
    "dysphagia",
    "an incidental finding",
    "trauma",
    "{anaemia}",
]
STUDIES = {
    "CR": ["Radiograph, two views", "Plain radiograph", "AP pelvis radiograph"],
    "DX": ["Digital radiograph"],
    "CT": ["CT with contrast", "Non-contrast CT", "CT, bone windows", "CT angiography"],
    "MR": ["MRI: T1, T2 and STIR", "MRI with gadolinium", "Diffusion-weighted MRI", "MRI, fat-saturated T2"],
    "NM": ["Tc-99m MDP bone scintigraphy", "V/Q scintigraphy"],
    "PT": ["FDG PET-CT"],
    "US": ["Ultrasound", "Doppler ultrasound"],
    "MG": ["Mammogram, CC and MLO views"],
    "RF": ["Barium swallow"],
}
FINDING_SENTENCES = [
    "There is {feature} in the {site}, measuring {size} mm.",
    "The {site} shows {feature}; no other abnormality is seen.",
    "A {size} mm lesion in the {site} with {feature} and surrounding {oedema}.",
    "Appearances are {characterised} by {feature}; the adjacent {site} is normal in signal.",
    "{feature_cap} with intermediate to {grey} signal and a {localised} soft-tissue component.",
    "No {haemorrhage}, calcification or fat; {feature} is the dominant finding.",
]
DISCUSSION_SENTENCES = [
    "{diagnosis} typically presents with {feature}, which is the key to the diagnosis here.",
    "The main differential is {other}, which lacks {feature}.",
    "In {paediatric} patients the {behaviour} of this lesion differs and follow-up is advised.",
    "Biopsy is reserved for atypical cases; this {tumour} was {characterised} at histology.",
    "Recognising {feature} on {modality} avoids an unnecessary intervention.",
    "{other} may mimic it when {haemorrhage} or {oedema} obscures the margins.",
    "The {site} is an unusual location, which made the case instructive.",
    "Older reports describe {feature} in up to half of cases; the sign is neither sensitive nor specific.",
    "When {modality} is equivocal, a second modality usually settles the question without biopsy.",
    "Radiologists should mention {other} in the report if {feature} is absent.",
    "Management depends on symptoms, size and the {behaviour} of the lesion on serial imaging.",
    "Complications include pathological fracture, {haemorrhage} and compression of adjacent structures.",
]
TEACHING_SENTENCES = [
    "- Look for {feature}.",
    "- {other} is the main mimic.",
    "- Correlate with the clinical history before suggesting {diagnosis}.",
]
# Sites by region slug, so that a finding's site fits the case's region.
SITES = {
    "lower-limb": ["femoral metaphysis", "proximal tibia", "distal femur", "fibular head", "calcaneus"],
    "upper-limb": ["humeral head", "distal radius", "proximal humerus", "scaphoid", "phalanx"],
    "bony-pelvis": ["iliac wing", "acetabulum", "femoral head", "pubic ramus", "sacroiliac joint"],
    "sacrum": ["sacral ala", "S1 vertebral body", "sacral canal", "presacral space"],
    "cervical-spine": ["C5 vertebral body", "cervical cord", "odontoid peg", "neural foramen"],
    "thoracic-spine": [
        "vertebral body",
        "pedicle",
        "paravertebral space",
        "epidural space",
        "costovertebral junction",
    ],
    "lumbar-spine": [
        "L4-L5 disc",
        "posterior elements",
        "lateral recess",
        "L2 vertebral body",
        "epidural space",
    ],
    "brain": ["frontal lobe", "temporal lobe", "basal ganglia", "cerebellopontine angle", "corpus callosum"],
    "head-and-neck": ["calvarium", "temporal bone", "thyroid gland", "skull base", "mandible"],
    "chest": ["right lower lobe", "left upper lobe", "pleural space", "pulmonary arteries", "lung apex"],
    "mediastinum": ["anterior mediastinum", "hilum", "distal oesophagus", "subcarinal space"],
    "chest-wall": ["upper outer quadrant", "retroareolar region", "axillary tail", "pectoral muscle"],
    "abdomen": [
        "right lobe of the liver",
        "left kidney",
        "pancreatic head",
        "right iliac fossa",
        "small bowel mesentery",
    ],
}
GENERAL_TAGS = [
    "classic",
    "pitfall",
    "biopsy-proven",
    "follow-up",
    "incidental",
    "emergency",
    "paediatrics",
    "oncology",
    "musculoskeletal",
    "neuroradiology",
    "chest",
    "abdominal",
    "interventional",
    "board review",
    "rare",
    "atypical appearance",
    "mimic",
    "trauma",
    "infection",
    "vascular",
]


class _Writer:
    """Fills templates, choosing British or American spelling at random for each spelt word."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def spell(self, text: str, **values) -> str:
        spellings = {key: self.rng.choice(options) for key, options in SPELLINGS.items()}
        return text.format(**spellings, **values).format(**spellings)

    def sentences(self, templates: list[str], count: int, **values) -> str:
        chosen = (self.spell(template, **values) for template in self.rng.sample(templates, count))
        return " ".join(sentence[:1].upper() + sentence[1:] for sentence in chosen)


def _ensure_diagnoses() -> dict[str, Diagnosis]:
    existing = {diagnosis.name: diagnosis for diagnosis in Diagnosis.objects.all()}
    for spec in DIAGNOSES:
        if spec.name not in existing:
            existing[spec.name] = Diagnosis.objects.create(
                name=spec.name, slug=slugify(spec.name), synonyms=list(spec.synonyms)
            )
    return existing


def _ensure_tags(names: list[str]) -> dict[str, Tag]:
    """Tags by name, created where missing (one per slug: "chest" may come from two lists)."""
    wanted = {slugify(name): name for name in names}
    tags = {tag.slug: tag for tag in Tag.objects.filter(slug__in=wanted)}
    missing = [Tag(name=name, slug=slug) for slug, name in wanted.items() if slug not in tags]
    for tag in Tag.objects.bulk_create(missing):
        tags[tag.slug] = tag
    return {name: tags[slugify(name)] for name in names}


def shared_pngs() -> list[dict]:
    """A few small real PNG files in the default storage (written once), described for ``Image`` rows."""
    import hashlib
    from io import BytesIO

    from PIL import Image as PILImage
    from PIL import ImageDraw

    described = []
    for n in range(SHARED_PNGS):
        picture = PILImage.new("L", (SHARED_PNG_SIZE, SHARED_PNG_SIZE), color=16 * n)
        draw = ImageDraw.Draw(picture)
        for ring in range(6):  # concentric rings, a little different in each file
            box = 8 + ring * 9 + n
            draw.ellipse([box, box, SHARED_PNG_SIZE - box, SHARED_PNG_SIZE - box], outline=60 + ring * 30)
        buffer = BytesIO()
        picture.save(buffer, format="PNG")
        content = buffer.getvalue()
        name = f"images/bench-shared-{n}.png"
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(content))
        described.append(
            {"name": name, "sha256": hashlib.sha256(content).hexdigest(), "size_bytes": len(content)}
        )
    return described


def _add_images(cases: list[Case], plans: list, rng: random.Random) -> None:
    """One study per case with ``SERIES_PER_CASE`` series of ``IMAGES_PER_SERIES`` rows, bulk-inserted."""
    files = shared_pngs()
    studies = [
        Study(case=case, modality=rng.choice(spec.modalities), time_label="Initial", order=1)
        for case, (spec, _others, _values) in zip(cases, plans, strict=True)
    ]
    studies = Study.objects.bulk_create(studies, batch_size=2000)
    series = [
        Series(study=study, label=label, order=order)
        for study in studies
        for order, label in enumerate(rng.sample(SERIES_LABELS, SERIES_PER_CASE), start=1)
    ]
    series = Series.objects.bulk_create(series, batch_size=2000)
    images = []
    for one in series:
        for order in range(1, IMAGES_PER_SERIES + 1):
            stored = rng.choice(files)
            images.append(
                Image(
                    series=one,
                    kind=Image.Kind.RASTER,
                    file=stored["name"],
                    sha256=stored["sha256"],
                    size_bytes=stored["size_bytes"],
                    rows=SHARED_PNG_SIZE,
                    columns=SHARED_PNG_SIZE,
                    order=order,
                    sort_key=order,
                )
            )
    Image.objects.bulk_create(images, batch_size=5000)


@transaction.atomic
def generate_archive(n_cases: int, *, drafts: int, seed: int, images: bool = True) -> list[int]:
    """Add ``n_cases`` published cases and ``drafts`` drafts; returns their ids. The seed archive
    (regions, its diagnoses and three cases) is loaded first if missing. ``images=False`` leaves out
    the studies, series and images."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    seed_load(data=read_seed())
    regions = {region.slug: region for region in Region.objects.all()}
    diagnoses = _ensure_diagnoses()
    specs = [spec for spec in DIAGNOSES]
    tag_pool = (
        GENERAL_TAGS + [spec.name.lower() for spec in specs] + [slug.replace("-", " ") for slug in regions]
    )
    tags = _ensure_tags(tag_pool)
    now = timezone.now()
    run = f"{seed}-{Case.objects.count()}"

    cases, plans = [], []
    for n in range(n_cases + drafts):
        spec = rng.choice(specs)
        # Differentials come from the same part of the body where possible, as a reader's would.
        near = [other for other in specs if other is not spec and set(other.regions) & set(spec.regions)]
        far = [other for other in specs if other is not spec and other not in near]
        rng.shuffle(near)
        others = (near + rng.sample(far, len(far)))[: DIFFERENTIAL_PER_CASE - 1]
        age = rng.randint(1, 90)
        sex = rng.choice(["F", "M"])
        person = ("girl" if sex == "F" else "boy") if age < 16 else ("woman" if sex == "F" else "man")
        complaint = writer.spell(rng.choice(COMPLAINTS))
        values = {
            "diagnosis": spec.name,
            "feature": rng.choice(spec.features),
            "other": others[0].name.lower(),
            "site": rng.choice(SITES[rng.choice(spec.regions)]),
            "modality": rng.choice(spec.modalities),
        }
        published = n < n_cases
        cases.append(
            Case(
                slug=f"bench-{run}-{n}",
                title=f"{age}-year-old {person} with {complaint}",
                age=age,
                sex=sex,
                clinical_history=writer.spell(f"{complaint.capitalize()} for {rng.randint(1, 52)} weeks."),
                final_diagnosis=diagnoses[spec.name],
                diagnosis_certainty=rng.choice(["histology", "clinical_imaging", "imaging_typical"]),
                diagnosis_proof=writer.spell("Confirmed at histology.") if rng.random() < 0.5 else "",
                treatment_outcome=writer.spell("Treated; the {tumour} did not recur at one year.")
                if rng.random() < 0.3
                else "",
                discussion=writer.sentences(DISCUSSION_SENTENCES, 8, **values),
                teaching_points="\n".join(
                    writer.spell(template, **values) for template in rng.sample(TEACHING_SENTENCES, 3)
                ),
                status=Case.Status.PUBLISHED if published else Case.Status.DRAFT,
                published_at=now - timedelta(minutes=rng.randint(1, 5 * 365 * 24 * 60))
                if published
                else None,
            )
        )
        plans.append((spec, others, values))
    cases = Case.objects.bulk_create(cases, batch_size=1000)

    findings, differential, region_links, tag_links = [], [], [], []
    region_through = Case.regions.through
    for case, (spec, others, values) in zip(cases, plans, strict=True):
        for order in range(1, FINDINGS_PER_CASE + 1):
            modality = rng.choice(spec.modalities)
            feature = rng.choice(spec.features)
            text = writer.sentences(
                FINDING_SENTENCES,
                2,
                **{**values, "feature": feature, "feature_cap": feature[:1].upper() + feature[1:]},
                size=rng.randint(4, 120),
            )
            findings.append(
                Finding(
                    case=case, modality=modality, study=rng.choice(STUDIES[modality]), text=text, order=order
                )
            )
        for order, other in enumerate([spec, *others], start=1):
            differential.append(
                DifferentialItem(
                    case=case,
                    diagnosis=diagnoses[other.name],
                    order=order,
                    rationale=writer.spell(
                        "Considered because of {feature} in the {site}.",
                        **{**values, "feature": rng.choice(other.features)},
                    ),
                )
            )
        region_slugs = list(dict.fromkeys([*spec.regions, *rng.sample(sorted(regions), 3)]))[
            :REGIONS_PER_CASE
        ]
        region_links += [region_through(case_id=case.pk, region_id=regions[slug].pk) for slug in region_slugs]
        case_tags = list(dict.fromkeys([spec.name.lower(), *rng.sample(GENERAL_TAGS, TAGS_PER_CASE)]))
        tag_links += [
            TaggedCase(content_object_id=case.pk, tag=tags[name]) for name in case_tags[:TAGS_PER_CASE]
        ]
    Finding.objects.bulk_create(findings, batch_size=2000)
    DifferentialItem.objects.bulk_create(differential, batch_size=2000)
    region_through.objects.bulk_create(region_links, batch_size=2000)
    TaggedCase.objects.bulk_create(tag_links, batch_size=2000)
    if images:
        _add_images(cases, plans, rng)
    # The bulk inserts bypassed save(): build the search documents with the same code a save runs.
    ids = [case.pk for case in cases]
    search_documents_refresh(case_ids=ids)
    case_facets_refresh(case_ids=ids)
    # ...and every signal: retire the cached facet counts and home-page aggregates explicitly.
    archive_changed()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="published cases to add (default 10,000)")
    parser.add_argument("--drafts", type=int, default=None, help="drafts to add (default: 5%% of --cases)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--no-images", action="store_true", help="no studies, series or images")
    args = parser.parse_args()
    drafts = args.drafts if args.drafts is not None else args.cases // 20
    started = time.perf_counter()
    ids = generate_archive(args.cases, drafts=drafts, seed=args.seed, images=not args.no_images)
    elapsed = time.perf_counter() - started
    print(f"Added {len(ids)} cases ({args.cases} published, {drafts} drafts) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
