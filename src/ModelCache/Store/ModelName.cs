using System.Text.RegularExpressions;
using InferenceMesh.ModelCache.Catalog;

namespace InferenceMesh.ModelCache.Store;

/// <summary>
/// Model names (the "model" clients send). Names are keys in the manifest and never become paths, but they are still
/// refused when they could mislead a person or a file system if anyone ever did: the catalog's safe-id rules
/// (no control/format characters, no separators, not empty/padded/"."/".."), at most 200 characters, no ':' and no
/// Windows device names (CON, NUL, COM1…, also with an extension).
/// </summary>
public static partial class ModelName
{
    /// <summary>The longest name accepted.</summary>
    public const int MaxLength = 200;

    /// <summary>Null when <paramref name="name"/> is acceptable, otherwise why not.</summary>
    public static string? Validate(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "the model name is empty";
        }

        if (name.Length > MaxLength)
        {
            return $"the model name is longer than {MaxLength} characters";
        }

        if (!ModelCatalog.IsSafeId(name) || name.Contains(':'))
        {
            return "the model name has control or format characters, path separators or ':', or is '.', '..' or padded";
        }

        if (DeviceName().IsMatch(name))
        {
            return "the model name is a device name";
        }

        return null;
    }

    public static bool IsValid(string? name) => Validate(name) is null;

    [GeneratedRegex(@"^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DeviceName();
}
