using System.Security.Cryptography;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Trust;
using InferenceMesh.Tests;

namespace InferenceMesh.Mesh.Tests.Configuration;

public sealed class MeshConfigReaderTests
{
    private static string Write(string yaml)
    {
        var path = Path.Combine(TestPaths.NewTempDir("im-mesh-cfg"), "config.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void No_mesh_block_means_mesh_off()
    {
        var (options, errors) = MeshConfigReader.Read(Write("policy: default\n"));
        Assert.Null(options);
        Assert.Empty(errors);
    }

    [Fact]
    public void Valid_block_is_read_with_defaults()
    {
        var id = NodeId.FromHash(SHA256.HashData("x"u8));
        var (options, errors) = MeshConfigReader.Read(Write($"""
            mesh:
              listen: 127.0.0.2:7443
              bootstrap: [127.0.0.3:7444]
              trust:
                - {"{"} id: {id}, level: trusted {"}"}
              dataDir: data
            """));
        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal(7443, options.Listen.Port);
        Assert.Equal(["127.0.0.3:7444"], options.Bootstrap);
        Assert.Equal(new TrustEntry(id, TrustLevel.Trusted), Assert.Single(options.Trust));
        Assert.Equal(MeshAdmission.Listed, options.Admission);
        Assert.Equal(MeshDefaults.AdvertRefreshInterval, options.AdvertRefreshInterval);
        Assert.EndsWith("data", options.DataDirectory, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_name_file_line_and_reason()
    {
        var path = Write("""
            mesh:
              listen: nowhere
              trust:
                - { id: ABC, level: trusted }
              colour: blue
            """);
        var (options, errors) = MeshConfigReader.Read(path);
        Assert.Null(options);
        Assert.Contains(errors, e => e.StartsWith($"{path}:2:", StringComparison.Ordinal) && e.Contains("mesh.listen", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains(":4:", StringComparison.Ordinal) && e.Contains("56 characters", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("unknown key 'mesh.colour'", StringComparison.Ordinal));
    }
}
