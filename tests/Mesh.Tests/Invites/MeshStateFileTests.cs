using InferenceMesh.Configuration;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Mesh.Invites;
using InferenceMesh.Tests;

namespace InferenceMesh.Mesh.Tests.Invites;

/// <summary>
/// The state file <c>mesh join</c> writes is read at start-up and by <c>mesh join</c> itself: one that is not a regular
/// file, or not JSON, is one line naming it, never a read that waits forever (a FIFO) or a stack trace.
/// </summary>
public sealed class MeshStateFileTests
{
    [Fact]
    public void A_state_file_that_is_a_fifo_a_device_or_a_folder_is_refused_before_it_is_opened()
    {
        var dir = TestPaths.NewTempDir("im-mesh-state");
        var pipe = Path.Combine(dir, "mesh-state.json");
        using var fifo = TestFifo.CreateWithWriterWaiting(pipe);

        // Was a read that waited forever for a writer (here the waiting writer makes it empty: a JsonException), a read
        // of /dev/zero that never ended, and a folder silently read as no nodes (where mesh join then fails to write).
        foreach (var (path, reason) in new[] { (pipe, RegularFile.NotRegular), ("/dev/zero", RegularFile.NotRegular), (dir, RegularFile.IsDirectory) })
        {
            var ex = Assert.Throws<MeshStateException>(() => MeshStateFile.Read(path));
            Assert.Equal($"The mesh state file {path} {reason}.", ex.Message);
        }
    }

    [Fact]
    public void A_state_file_that_is_not_json_is_a_one_line_error_naming_it()
    {
        var file = Path.Combine(TestPaths.NewTempDir("im-mesh-state"), "mesh-state.json");
        File.WriteAllText(file, "{\"joined\": [");

        // Was a JsonException from the deserializer, which start-up did not catch.
        var ex = Assert.Throws<MeshStateException>(() => MeshStateFile.Read(file));

        Assert.StartsWith($"The mesh state file {file} is not valid JSON", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);

        // JSON whose entries are null is no node (was a NullReferenceException).
        File.WriteAllText(file, """{"joined": [null, {"id": null, "gossip": [null]}]}""");
        Assert.Empty(MeshStateFile.Read(file));
    }

    [Fact]
    public void Start_up_with_a_state_file_that_is_a_fifo_fails_with_the_one_line_error()
    {
        var root = TestPaths.NewTempDir("im-mesh-state");
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(data);
        var state = Path.Combine(data, "mesh-state.json");
        using var fifo = TestFifo.CreateWithWriterWaiting(state);
        var config = Path.Combine(root, "config.yaml");
        File.WriteAllText(config, $"mesh:\n  listen: 127.0.0.1:0\n  dataDir: {data}\n");

        // The host's builder read it while registering the mesh: start-up hung on the FIFO.
        var ex = Assert.Throws<GatewayOptionsException>(() => GatewayApp.Build(["--port", "0", "--config", config, "--data", Path.Combine(root, "context")]));

        Assert.Equal($"The mesh state file {state} {RegularFile.NotRegular}.", ex.Message);
    }

    [Fact]
    public async Task Mesh_join_with_a_state_file_that_is_a_fifo_is_the_one_line_error()
    {
        var data = TestPaths.NewTempDir("im-mesh-state");
        var state = Path.Combine(data, "mesh-state.json");
        using var fifo = TestFifo.CreateWithWriterWaiting(state);
        var token = new InviteToken(InferenceMesh.Mesh.Identity.NodeId.FromHash(System.Security.Cryptography.SHA256.HashData("join"u8)), ["127.0.0.2:7444"], []).Encode();
        var error = new StringWriter();

        Assert.Equal(2, await MeshCli.RunAsync(["mesh", "join", token, "--data", data], new StringWriter(), error));

        Assert.Equal($"inference-mesh: The mesh state file {state} {RegularFile.NotRegular}.", error.ToString().Trim());
    }
}
