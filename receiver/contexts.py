"""What the receiver accepts: the storage SOP classes and transfer syntaxes the image gate reads.

An allow-list, like every gate here: a SOP class or transfer syntax not named below has its
presentation context rejected at association time, so none of its instances is ever stored.
"""

from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLELossless,
)
from pynetdicom import sop_class

#: Image storage SOP classes of the modalities the ingest reads, with their enhanced and multi-frame forms.
IMAGE_STORAGE_CLASSES = [
    sop_class.CTImageStorage,
    sop_class.EnhancedCTImageStorage,
    sop_class.LegacyConvertedEnhancedCTImageStorage,
    sop_class.MRImageStorage,
    sop_class.EnhancedMRImageStorage,
    sop_class.EnhancedMRColorImageStorage,
    sop_class.LegacyConvertedEnhancedMRImageStorage,
    sop_class.ComputedRadiographyImageStorage,
    sop_class.DigitalXRayImageStorageForPresentation,
    sop_class.DigitalXRayImageStorageForProcessing,
    sop_class.NuclearMedicineImageStorage,
    sop_class.PositronEmissionTomographyImageStorage,
    sop_class.EnhancedPETImageStorage,
    sop_class.LegacyConvertedEnhancedPETImageStorage,
    sop_class.UltrasoundImageStorage,
    sop_class.UltrasoundMultiFrameImageStorage,
    sop_class.EnhancedUSVolumeStorage,
    sop_class.SecondaryCaptureImageStorage,
    sop_class.MultiFrameSingleBitSecondaryCaptureImageStorage,
    sop_class.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
    sop_class.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    sop_class.MultiFrameTrueColorSecondaryCaptureImageStorage,
]

KEY_OBJECT_SELECTION = sop_class.KeyObjectSelectionDocumentStorage

ACCEPTED_STORAGE_CLASSES = frozenset([*IMAGE_STORAGE_CLASSES, KEY_OBJECT_SELECTION])

#: Every transfer syntax imaging.dicom.reading reads (native, deflated, JPEG, JPEG-LS, JPEG 2000, RLE).
TRANSFER_SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    *JPEGTransferSyntaxes,
    *JPEGLSTransferSyntaxes,
    *JPEG2000TransferSyntaxes,
    RLELossless,
]
