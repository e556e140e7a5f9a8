"""What de-identification keeps: the only attributes whose original value may survive.

An attribute that is not named here is removed, or kept present with an empty or dummy
value where the PS3.15 Annex E Basic Profile says so (:mod:`imaging.dicom.annex_e`), at
every level of every sequence. Private attributes, curves (50xx), overlays (60xx) and
public attributes that no dictionary knows are never named here, so they always go.

Each kept attribute has a *how*:

``K``
    kept as it is, if its value conforms to its value representation (PS3.5 6.2): a code
    string, a number, a time or a binary value holds no free text by definition, and a
    value that does not conform is removed. A *SOP Class UID* is kept only if it is a
    registered SOP class; any other value is replaced as an instance UID is.
``S``
    a date (DA) or date-time (DT), shifted by the case's whole-day offset; a date-time
    loses its time-zone offset (Retain Longitudinal Temporal Information with Modified
    Dates Option, PS3.15 E.3.6).
``U``
    a UID, replaced by a new UID derived from the case's secret (PS3.15 E.1-1 action U).
``A``
    an age (AS), kept under the Retain Patient Characteristics Option (PS3.15 E.3.7) but
    never above 89 years: older ages are stored as ``090Y`` (HIPAA safe harbour,
    45 CFR 164.514(b)(2)(i)(C)).
``C``
    a long or short string (LO, SH) with defined terms, kept only if it is one of them
    (:data:`DEFINED_TERMS`); any other value is removed.
``Q``
    a sequence, kept and walked: its items are cleaned by these same rules.

No person name (PN) and no free text (LO, LT, SH, ST, UC, UT) is kept, except the ``C``
attributes above, whose values are checked against their defined terms.
"""

from __future__ import annotations

__all__ = ["DEFINED_TERMS", "KEEP", "RETAIN_OPTION_EXCEPTIONS"]


def _keep(how: str, keywords: str) -> dict[str, str]:
    return dict.fromkeys(keywords.split(), how)


#: Keyword -> how it is kept (see the module's docstring).
KEEP: dict[str, str] = {
    # SOP Common (PS3.3 C.12.1): what the object is, and how its text is encoded.
    **_keep("K", "SpecificCharacterSet SOPClassUID"),
    **_keep("U", "SOPInstanceUID"),
    # Patient (C.7.1.1) and Patient Study (C.7.2.2), Retain Patient Characteristics (E.3.7).
    **_keep("K", "PatientSex PatientSize PatientWeight"),
    **_keep("A", "PatientAge"),
    # General Study, General Series, Frame of Reference (C.7.2.1, C.7.3.1, C.7.4.1):
    # identity replaced, dates shifted (E.3.6), times of day kept (the shift is whole days).
    **_keep("U", "StudyInstanceUID SeriesInstanceUID FrameOfReferenceUID"),
    **_keep("S", "StudyDate SeriesDate AcquisitionDate ContentDate AcquisitionDateTime"),
    **_keep("K", "StudyTime SeriesTime AcquisitionTime ContentTime"),
    **_keep(
        "K",
        """
        Modality SeriesNumber Laterality BodyPartExamined PatientPosition AnatomicalOrientationType
        InstanceNumber AcquisitionNumber ImagesInAcquisition PatientOrientation ImageType ImageLaterality
        ViewPosition ConversionType
        BurnedInAnnotation RecognizableVisualFeatures
        LossyImageCompression LossyImageCompressionRatio LossyImageCompressionMethod
        """,
    ),
    # Image Pixel (C.7.6.3), Multi-frame and Cine (C.7.6.6, C.7.6.5), palettes (C.7.6.3.1.5).
    **_keep(
        "K",
        """
        SamplesPerPixel PhotometricInterpretation Rows Columns BitsAllocated BitsStored HighBit
        PixelRepresentation PlanarConfiguration PixelAspectRatio SmallestImagePixelValue
        LargestImagePixelValue PixelPaddingValue PixelPaddingRangeLimit
        PixelData FloatPixelData DoubleFloatPixelData
        NumberOfFrames FrameIncrementPointer FrameTime FrameTimeVector FrameDelay ActualFrameDuration
        CineRate RecommendedDisplayFrameRate StartTrim StopTrim PreferredPlaybackSequencing
        RedPaletteColorLookupTableDescriptor GreenPaletteColorLookupTableDescriptor
        BluePaletteColorLookupTableDescriptor RedPaletteColorLookupTableData
        GreenPaletteColorLookupTableData BluePaletteColorLookupTableData
        SegmentedRedPaletteColorLookupTableData SegmentedGreenPaletteColorLookupTableData
        SegmentedBluePaletteColorLookupTableData
        """,
    ),
    **_keep("U", "PaletteColorLookupTableUID"),
    # Image Plane (C.7.6.2) and the geometry of projection images (C.8.11.7, C.8.7.10).
    **_keep(
        "K",
        """
        PixelSpacing ImageOrientationPatient ImagePositionPatient SliceThickness SpacingBetweenSlices
        SliceLocation ImagerPixelSpacing EstimatedRadiographicMagnificationFactor
        PixelSpacingCalibrationType
        """,
    ),
    # Modality LUT and VOI LUT (C.11.1, C.11.2): how the pixels are shown.
    **_keep(
        "K",
        """
        RescaleIntercept RescaleSlope WindowCenter WindowWidth VOILUTFunction PresentationLUTShape
        LUTDescriptor LUTData PixelIntensityRelationship PixelIntensityRelationshipSign
        PresentationIntentType
        """,
    ),
    **_keep("C", "RescaleType ModalityLUTType"),
    **_keep("Q", "ModalityLUTSequence VOILUTSequence"),
    # Acquisition parameters: CT (C.8.2.1), MR (C.8.3.1), X-ray (C.8.7, C.8.11), US (C.8.5.5).
    **_keep(
        "K",
        """
        KVP XRayTubeCurrent XRayTubeCurrentInmA ExposureTime ExposureTimeInms Exposure ExposureInuAs
        DataCollectionDiameter ReconstructionDiameter DistanceSourceToDetector DistanceSourceToPatient
        GantryDetectorTilt TableHeight RotationDirection GeneratorPower FocalSpots SpiralPitchFactor
        TableSpeed TableFeedPerRotation RevolutionTime SingleCollimationWidth TotalCollimationWidth
        CTDIvol ExposureModulationType ScanOptions DataCollectionCenterPatient
        ReconstructionTargetCenterPatient
        ScanningSequence SequenceVariant MRAcquisitionType RepetitionTime EchoTime InversionTime
        EchoTrainLength NumberOfAverages ImagingFrequency MagneticFieldStrength EchoNumbers FlipAngle
        PixelBandwidth AcquisitionMatrix InPlanePhaseEncodingDirection PercentSampling
        PercentPhaseFieldOfView NumberOfPhaseEncodingSteps SAR dBdt VariableFlipAngleFlag TriggerTime
        DiffusionBValue
        PositionerPrimaryAngle PositionerSecondaryAngle BodyPartThickness CompressionForce
        AnodeTargetMaterial FilterMaterial Grid RelativeXRayExposure FieldOfViewShape
        FieldOfViewDimensions FieldOfViewOrigin FieldOfViewRotation FieldOfViewHorizontalFlip
        Units DecayCorrection
        DoseUnits DoseType DoseSummationType DoseGridScaling GridFrameOffsetVector
        """,
    ),
    # Ultrasound regions (C.8.5.5): the calibration of measurements on the image.
    **_keep("Q", "SequenceOfUltrasoundRegions"),
    **_keep(
        "K",
        """
        RegionSpatialFormat RegionDataType RegionFlags RegionLocationMinX0 RegionLocationMinY0
        RegionLocationMaxX1 RegionLocationMaxY1 ReferencePixelX0 ReferencePixelY0
        PhysicalUnitsXDirection PhysicalUnitsYDirection ReferencePixelPhysicalValueX
        ReferencePixelPhysicalValueY PhysicalDeltaX PhysicalDeltaY TransducerFrequency
        PulseRepetitionFrequency DopplerCorrectionAngle SteeringAngle
        """,
    ),
    # Enhanced multi-frame functional groups (C.7.6.16, C.7.6.17): per-frame geometry and display.
    **_keep(
        "Q",
        """
        SharedFunctionalGroupsSequence PerFrameFunctionalGroupsSequence PixelMeasuresSequence
        PlanePositionSequence PlaneOrientationSequence FrameVOILUTSequence
        PixelValueTransformationSequence FrameContentSequence DimensionIndexSequence
        MRTimingAndRelatedParametersSequence MREchoSequence MRDiffusionSequence
        CTAcquisitionDetailsSequence CTGeometrySequence CTXRayDetailsSequence CTExposureSequence
        """,
    ),
    **_keep(
        "K",
        """
        InStackPositionNumber TemporalPositionIndex DimensionIndexValues FrameAcquisitionNumber
        DimensionIndexPointer FunctionalGroupPointer EffectiveEchoTime
        """,
    ),
    **_keep("U", "DimensionOrganizationUID"),
}

#: Defined terms of the ``C`` attributes (PS3.3 C.11.1.1.2).
DEFINED_TERMS: dict[str, frozenset[str]] = {
    keyword: frozenset(["OD", "HU", "US", "MGML", "Z_EFF", "ED", "EDW", "HU_MOD", "PCT"])
    for keyword in ("RescaleType", "ModalityLUTType")
}

#: Kept attributes whose PS3.15 Table E.1-1 action is stricter than what is done here, each
#: with the option that allows it (DCM codes from CID 7050). Reviewed: nothing else is kept
#: that the Basic Profile would remove, empty or replace.
RETAIN_OPTION_EXCEPTIONS: dict[str, str] = {
    **dict.fromkeys(
        ["PatientAge", "PatientSex", "PatientSize", "PatientWeight"],
        "Retain Patient Characteristics Option (113108, PS3.15 E.3.7); ages over 89 as 090Y",
    ),
    **dict.fromkeys(
        ["StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "AcquisitionDateTime"],
        "Retain Longitudinal Temporal Information with Modified Dates Option (113107, PS3.15 E.3.6):"
        " shifted by the case's whole-day offset",
    ),
    **dict.fromkeys(
        ["StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"],
        "Retain Longitudinal Temporal Information with Modified Dates Option (113107, PS3.15 E.3.6):"
        " the times of day of shifted dates (the offset is whole days)",
    ),
}
