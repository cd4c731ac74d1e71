using InferenceMesh.Classifier;

namespace InferenceMesh.Router.Routing;

/// <summary>The <c>X-InferenceMesh-Privacy</c> request header: a caller's privacy level.</summary>
public static class PrivacyHeader
{
    public const string Name = "X-InferenceMesh-Privacy";

    /// <summary>Parses "public", "internal", "confidential" or "restricted" (case-insensitive); anything else is false (answer 400).</summary>
    public static bool TryParse(string? value, out PrivacyLevel level)
    {
        level = default;
        var text = value?.Trim();
        if (string.IsNullOrEmpty(text) || !char.IsAsciiLetter(text[0]))
        {
            return false; // Enum.TryParse would also accept numbers and comma lists
        }

        return Enum.TryParse(text, ignoreCase: true, out level) && Enum.IsDefined(level) && !text.Contains(',');
    }

    public static string Format(PrivacyLevel level) => level.ToString().ToLowerInvariant();
}
