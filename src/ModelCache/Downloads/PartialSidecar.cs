using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.ModelCache.Downloads;

/// <summary>
/// <c>partial/&lt;key&gt;.json</c>: what the partial file's bytes are, so a later pull can ask for the rest with
/// If-Range and notice a changed file. Untrusted on read: anything malformed discards the partial.
/// </summary>
internal sealed record PartialSidecar
{
    public string? Url { get; init; }

    public string? ETag { get; init; }

    public string? LastModified { get; init; }

    public long? TotalBytes { get; init; }

    public string? ExpectedSha256 { get; init; }

    public static PartialSidecar? TryRead(string path)
    {
        try
        {
            if (!File.Exists(path) || new FileInfo(path).Length > 64 * 1024)
            {
                return null;
            }

            return JsonSerializer.Deserialize(File.ReadAllBytes(path), PartialSidecarJsonContext.Default.PartialSidecar);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes via a temp file and a rename, so a crash leaves the old or the new sidecar, never half of one.</summary>
    public void Write(string path)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, this, PartialSidecarJsonContext.Default.PartialSidecar);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PartialSidecar))]
internal sealed partial class PartialSidecarJsonContext : JsonSerializerContext;
