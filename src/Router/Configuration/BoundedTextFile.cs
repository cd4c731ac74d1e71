using System.Text;

namespace InferenceMesh.Configuration;

/// <summary>
/// Reads a small text file the operator names (config, policy, API key) without trusting what the name points at:
/// a directory, FIFO, device or socket is refused before it is opened (opening a FIFO without a writer waits forever;
/// <c>/dev/zero</c> never ends), and at most <c>maxBytes</c> are read, so a runaway file is an error instead of a
/// start-up that hangs or runs out of memory. Linked into the Router and Mesh projects (both read the gateway's config
/// file).
/// </summary>
internal static class BoundedTextFile
{
    /// <summary>The limit for config and policy files.</summary>
    public const int ConfigMaxBytes = 1 << 20;

    /// <summary>The text, or null and a reason (without the path; the caller names the file).</summary>
    public static (string? Text, string? Error) Read(string path, int maxBytes)
    {
        if (RegularFile.Problem(path) is { } problem)
        {
            return (null, problem);
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            var buffer = new byte[Math.Min(maxBytes + 1, 64 * 1024)];
            using var content = new MemoryStream();
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                content.Write(buffer, 0, read);
                if (content.Length > maxBytes)
                {
                    return (null, $"is larger than {Size(maxBytes)} (is the path right?)");
                }
            }

            return (new StreamReader(new MemoryStream(content.GetBuffer(), 0, (int)content.Length), Encoding.UTF8, detectEncodingFromByteOrderMarks: true).ReadToEnd(), null);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return (null, "not found");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, $"cannot be read: {ex.Message}");
        }
    }

    private static string Size(int bytes) => bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes} bytes";
}
