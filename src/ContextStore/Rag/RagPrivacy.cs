namespace InferenceMesh.ContextStore.Rag;

/// <summary>
/// A vector store's privacy level: retrieving from it raises the request's privacy floor to this level, so a
/// confidential store's passages never leave the machine. Same four levels as the classifier's.
/// </summary>
public enum RagPrivacy
{
    Public,
    Internal,
    Confidential,
    Restricted,
}

public static class RagPrivacyNames
{
    public static string Format(RagPrivacy privacy) => privacy switch
    {
        RagPrivacy.Public => "public",
        RagPrivacy.Internal => "internal",
        RagPrivacy.Confidential => "confidential",
        _ => "restricted",
    };

    public static bool TryParse(string? text, out RagPrivacy privacy)
    {
        switch (text)
        {
            case "public": privacy = RagPrivacy.Public; return true;
            case "internal": privacy = RagPrivacy.Internal; return true;
            case "confidential": privacy = RagPrivacy.Confidential; return true;
            case "restricted": privacy = RagPrivacy.Restricted; return true;
            default: privacy = RagPrivacy.Confidential; return false;
        }
    }
}
