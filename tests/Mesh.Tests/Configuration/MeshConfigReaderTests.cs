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
    public void A_config_path_naming_an_endless_device_is_one_error_not_a_hang()
    {
        var (options, errors) = MeshConfigReader.Read("/dev/zero");

        Assert.Null(options);
        Assert.Equal("/dev/zero: config file is not a regular file (a FIFO, a device or a socket)", Assert.Single(errors));
    }

    [Fact]
    public void A_file_the_yaml_parser_gives_up_on_is_one_error_line_not_an_exception()
    {
        var path = Write("mesh:\n  peers: [a\nb]\n"); // YamlDotNet throws InvalidOperationException on this

        var (options, errors) = MeshConfigReader.Read(path);

        Assert.Null(options);
        Assert.Equal($"{path}: not valid YAML (the parser gave up; check brackets, quotes and indentation)", Assert.Single(errors));
    }

    [Fact]
    public void A_file_nested_too_deep_is_one_error_line_not_a_stack_overflow()
    {
        // 200,000 nested lists overflowed the representation model's recursion: the process aborted.
        var path = Write("mesh:\n  bootstrap: " + new string('[', 200_000) + new string(']', 200_000) + "\n");

        var (options, errors) = MeshConfigReader.Read(path);

        Assert.Null(options);
        Assert.Equal($"{path}:2:{14 + 31 - 1}: nested deeper than 32 levels", Assert.Single(errors));
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

    [Fact]
    public void Quota_and_verify_share_have_defaults_and_can_be_set_per_peer()
    {
        var (defaults, _) = MeshConfigReader.Read(Write("mesh:\n  listen: 127.0.0.2:7443\n"));
        Assert.Equal(new InferenceMesh.Mesh.Serving.PeerQuota(4, 100_000), defaults!.Quota);
        Assert.Equal(0.05, defaults.VerifyShare);

        var id = NodeId.FromHash(SHA256.HashData("y"u8));
        var (options, errors) = MeshConfigReader.Read(Write($"""
            mesh:
              listen: 127.0.0.2:7443
              verifyShare: 1
              quota: {"{"} concurrent: 2, tokensPerMinute: 500 {"}"}
              trust:
                - {"{"} id: {id}, level: community, tokensPerMinute: 10 {"}"}
            """));
        Assert.Empty(errors);
        Assert.Equal(1.0, options!.VerifyShare);
        Assert.Equal(new InferenceMesh.Mesh.Serving.PeerQuota(2, 500), options.Quota);
        Assert.Equal(new InferenceMesh.Mesh.Serving.PeerQuota(4, 10), Assert.Single(options.Trust).Quota);
    }

    [Theory]
    [InlineData("  verifyShare: 1.5\n", ":2:", "mesh.verifyShare must be a number from 0 to 1")]
    [InlineData("  quota: { concurrent: 0 }\n", ":2:", "mesh.quota.concurrent must be a whole number >= 1 (got '0')")]
    [InlineData("  quota: { speed: 3 }\n", ":2:", "unknown key 'speed' in mesh.quota")]
    [InlineData("  quota: 5\n", ":2:", "mesh.quota must be a mapping")]
    public void Bad_quota_or_share_names_line_and_reason(string line, string where, string reason)
    {
        var path = Write("mesh:\n" + line + "  listen: 127.0.0.2:7443\n");
        var (options, errors) = MeshConfigReader.Read(path);
        Assert.Null(options);
        var error = Assert.Single(errors);
        Assert.StartsWith(path + where, error, StringComparison.Ordinal);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }
}
