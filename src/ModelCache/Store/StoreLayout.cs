namespace InferenceMesh.ModelCache.Store;

/// <summary>
/// Where the store keeps things under the models folder. Every path the store writes comes from here and is built
/// from a validated <see cref="Sha256Digest"/> or a name this class generates itself, never from a model name, a URL
/// or a server's file name.
/// </summary>
public sealed class StoreLayout
{
    /// <summary>The manifest database's file name.</summary>
    public const string ManifestFileName = "manifest.db";

    public StoreLayout(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        Blobs = Path.Combine(Root, "blobs");
        Partial = Path.Combine(Root, "partial");
        Quarantine = Path.Combine(Root, "quarantine");
        Manifest = Path.Combine(Root, ManifestFileName);
    }

    /// <summary>The models folder (loose *.gguf files live at its top level).</summary>
    public string Root { get; }

    /// <summary><c>blobs/</c>: one file per digest, <c>sha256-&lt;hex&gt;</c>, plus in-flight temp files.</summary>
    public string Blobs { get; }

    /// <summary><c>partial/</c>: resumable downloads, <c>&lt;key&gt;.part</c> + <c>&lt;key&gt;.json</c>.</summary>
    public string Partial { get; }

    /// <summary><c>quarantine/</c>: files whose bytes no longer match their digest.</summary>
    public string Quarantine { get; }

    public string Manifest { get; }

    public string BlobPath(Sha256Digest digest) => Path.Combine(Blobs, digest.BlobFileName);

    /// <summary>A fresh temp file name in <c>blobs/</c> (same folder as the final name, so the rename is atomic).</summary>
    public string NewTempBlobPath() => Path.Combine(Blobs, $".incoming-{Guid.NewGuid():N}.tmp");

    /// <summary>The partial file of a download key (a digest's hex, or the hex SHA-256 of the URL).</summary>
    public string PartialPath(Sha256Digest key) => Path.Combine(Partial, key.Hex + ".part");

    public string SidecarPath(Sha256Digest key) => Path.Combine(Partial, key.Hex + ".json");

    /// <summary>The lock a pull holds on a download key while it runs (deleted when it ends).</summary>
    public string PartialLockPath(Sha256Digest key) => Path.Combine(Partial, key.Hex + ".lock");

    /// <summary>A loose file's full path from its bare file name, or null when the name is not a plain top-level name.</summary>
    public string? LoosePath(string fileName)
    {
        if (string.IsNullOrEmpty(fileName) || fileName.Contains('\0') || Path.GetFileName(fileName) != fileName
            || fileName is "." or ".." || fileName.Contains('/') || fileName.Contains('\\'))
        {
            return null;
        }

        var full = Path.GetFullPath(Path.Combine(Root, fileName));
        return string.Equals(Path.GetDirectoryName(full), Root, StringComparison.Ordinal) ? full : null;
    }

    public void EnsureFolders()
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Blobs);
        Directory.CreateDirectory(Partial);
        Directory.CreateDirectory(Quarantine);
    }
}
