using InferenceMesh.Mesh.Identity;
using InferenceMesh.Tests;

namespace InferenceMesh.Mesh.Tests.Identity;

public sealed class NodeIdentityTests
{
    [Fact]
    public void Key_is_created_owner_only_and_reloads_to_the_same_id()
    {
        var dir = TestPaths.NewTempDir("im-mesh-id");
        var keyFile = Path.Combine(dir, "sub", "node.key");
        NodeId first;
        using (var created = NodeIdentity.LoadOrCreate(keyFile))
        {
            first = created.Id;
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        using var loaded = NodeIdentity.LoadOrCreate(keyFile);
        Assert.Equal(first, loaded.Id);
    }

    [Fact]
    public void A_key_readable_by_others_is_refused()
    {
        var keyFile = Path.Combine(TestPaths.NewTempDir("im-mesh-id"), "node.key");
        NodeIdentity.LoadOrCreate(keyFile).Dispose();
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var ex = Assert.Throws<MeshIdentityException>(() => NodeIdentity.LoadOrCreate(keyFile));
        Assert.Contains("chmod 600", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_file_that_is_a_fifo_is_refused_before_it_is_opened()
    {
        var keyFile = Path.Combine(TestPaths.NewTempDir("im-mesh-id"), "node.key");
        using var fifo = TestFifo.CreateWithWriterWaiting(keyFile);

        // Was a read that waited forever for a writer (here the waiting writer makes it an empty, non-PEM key).
        var ex = Assert.Throws<MeshIdentityException>(() => NodeIdentity.LoadOrCreate(keyFile));

        Assert.Equal($"The node key {keyFile} {InferenceMesh.Configuration.RegularFile.NotRegular}.", ex.Message);
    }

    [Fact]
    public void An_empty_key_file_is_a_one_line_error_naming_it()
    {
        var keyFile = Path.Combine(TestPaths.NewTempDir("im-mesh-id"), "node.key");
        File.WriteAllText(keyFile, "");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // Was an ArgumentException from ImportFromPem ("no supported key formats"), not the identity error.
        var ex = Assert.Throws<MeshIdentityException>(() => NodeIdentity.LoadOrCreate(keyFile));

        Assert.StartsWith($"The node key {keyFile} is not a PEM ECDSA private key", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Certificate_is_bound_to_the_key_and_checked_against_the_expected_id()
    {
        var dir = TestPaths.NewTempDir("im-mesh-id");
        using var a = NodeIdentity.LoadOrCreate(Path.Combine(dir, "a.key"));
        using var b = NodeIdentity.LoadOrCreate(Path.Combine(dir, "b.key"));
        var now = DateTimeOffset.UtcNow;
        using var cert = NodeCertificate.Create(a, now, TimeSpan.FromDays(7));
        Assert.True(cert.HasPrivateKey);
        Assert.Equal(PeerCertificateError.None, PeerCertificateCheck.Check(cert, now, a.Id, out var id));
        Assert.Equal(a.Id, id);
        Assert.Equal(PeerCertificateError.IdMismatch, PeerCertificateCheck.Check(cert, now, b.Id, out _));
        Assert.Equal(PeerCertificateError.Expired, PeerCertificateCheck.Check(cert, now.AddDays(8), a.Id, out _));
        Assert.Equal(PeerCertificateError.NotYetValid, PeerCertificateCheck.Check(cert, now.AddHours(-1), a.Id, out _));
        Assert.Equal(PeerCertificateError.Missing, PeerCertificateCheck.Check(null, now, a.Id, out _));
    }
}
