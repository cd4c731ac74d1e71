using System.Security.Cryptography;

namespace InferenceMesh.Mesh.Identity;

/// <summary>
/// This node's key pair and id. ECDSA P-256 (System.Security.Cryptography): .NET has no Ed25519, and P-256 is
/// what every TLS stack, X.509 tool and HSM supports, so the same key signs the TLS handshake directly.
/// The private key is a PKCS#8 PEM file created with owner-only permissions (0600) on first start.
/// </summary>
public sealed class NodeIdentity : IDisposable
{
    private NodeIdentity(ECDsa key, string keyFile)
    {
        Key = key;
        KeyFile = keyFile;
        Id = NodeId.FromPublicKey(key.ExportSubjectPublicKeyInfo());
    }

    public ECDsa Key { get; }

    public NodeId Id { get; }

    public string KeyFile { get; }

    /// <summary>Loads the key file, or creates it (and its folder) when absent.</summary>
    public static NodeIdentity LoadOrCreate(string keyFile)
    {
        var full = Path.GetFullPath(keyFile);
        if (File.Exists(full))
        {
            return Load(full);
        }

        var folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = key.ExportPkcs8PrivateKeyPem();
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var stream = new FileStream(full, options);
            using var writer = new StreamWriter(stream);
            writer.Write(pem);
        }
        catch (IOException) when (File.Exists(full))
        {
            // Another process created it first: use theirs.
            key.Dispose();
            return Load(full);
        }

        return new NodeIdentity(key, full);
    }

    private static NodeIdentity Load(string path)
    {
        // A FIFO with no writer would make the read below wait forever, and a device would never end.
        if (InferenceMesh.Configuration.RegularFile.Problem(path) is { } problem)
        {
            throw new MeshIdentityException($"The node key {path} {problem}.");
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                throw new MeshIdentityException($"The node key {path} is readable by others (mode {Convert.ToString((int)mode, 8)}); run chmod 600 on it.");
            }
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // ImportFromPem throws ArgumentException when the text holds no PEM at all (an empty file).
            key.Dispose();
            throw new MeshIdentityException($"The node key {path} is not a PEM ECDSA private key: {ex.Message}", ex);
        }

        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new MeshIdentityException($"The node key {path} is not a P-256 key.");
        }

        return new NodeIdentity(key, path);
    }

    public void Dispose() => Key.Dispose();
}

/// <summary>The node key cannot be used; the message is one line for the console.</summary>
public sealed class MeshIdentityException(string message, Exception? inner = null) : Exception(message, inner);
