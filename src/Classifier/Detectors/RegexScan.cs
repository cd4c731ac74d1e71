using System.Text.RegularExpressions;

namespace InferenceMesh.Classifier.Detectors;

/// <summary>Restartable, allocation-free matching, for detectors that resume after a rejected candidate.</summary>
internal static class RegexScan
{
    /// <summary>The first match at or after <paramref name="startAt"/>; lookbehinds still see the text before it.</summary>
    public static bool Next(Regex regex, string text, int startAt, out int index, out int length)
    {
        foreach (var match in regex.EnumerateMatches(text.AsSpan(), startAt))
        {
            index = match.Index;
            length = match.Length;
            return true;
        }

        index = 0;
        length = 0;
        return false;
    }

    public static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}
