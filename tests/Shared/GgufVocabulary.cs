namespace InferenceMesh.Tests;

/// <summary>Where each entry of a GGUF string array (the vocabulary) sits in the file's bytes, for tests that edit one.</summary>
internal static class GgufVocabulary
{
    /// <summary>Per entry, the offset of its string bytes and their length; <paramref name="offset"/> is the array's first element.</summary>
    public static List<(int Offset, int Length)> Entries(byte[] bytes, long offset, long count)
    {
        var entries = new List<(int Offset, int Length)>((int)count);
        var at = (int)offset;
        for (var i = 0; i < count; i++)
        {
            var length = (int)BitConverter.ToUInt64(bytes, at);
            entries.Add((at + 8, length));
            at += 8 + length;
        }

        return entries;
    }
}
