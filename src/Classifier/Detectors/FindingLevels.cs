namespace InferenceMesh.Classifier.Detectors;

/// <summary>
/// The privacy level each kind of finding implies. The table is documented in src/Classifier/README.md;
/// keep both in step.
/// </summary>
internal static class FindingLevels
{
    public static PrivacyLevel Of(FindingKind kind) => kind switch
    {
        // contact details and addresses identify people or machines, but travel in everyday mail
        FindingKind.Email or FindingKind.Phone or FindingKind.IpAddress => PrivacyLevel.Internal,

        // regulated personal and financial data
        FindingKind.PaymentCard or FindingKind.Iban or FindingKind.NationalId => PrivacyLevel.Confidential,

        // a credential grants access by itself: it must not leave the machine at all
        FindingKind.CloudAccessKey or FindingKind.VcsToken or FindingKind.ApiKey or FindingKind.PrivateKey
            or FindingKind.Jwt or FindingKind.Password => PrivacyLevel.Restricted,

        // the floor; each marker carries its own level (see ConfidentialityMarkerDetector)
        FindingKind.ConfidentialityMarker => PrivacyLevel.Internal,

        // a kind added later without a row here fails closed
        _ => PrivacyLevel.Confidential,
    };
}
