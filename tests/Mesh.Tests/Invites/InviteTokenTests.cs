using System.Security.Cryptography;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Invites;
using InferenceMesh.Tests;

namespace InferenceMesh.Mesh.Tests.Invites;

public sealed class InviteTokenTests
{
    private static readonly NodeId Id = NodeId.FromHash(SHA256.HashData("invite"u8));

    [Fact]
    public void Token_round_trips_and_is_compact()
    {
        var token = new InviteToken(Id, ["192.168.1.10:7444"], ["192.168.1.10:7443"]).Encode();
        Assert.StartsWith(InviteToken.Prefix, token, StringComparison.Ordinal);
        Assert.True(token.Length < 200, token);
        Assert.True(InviteToken.TryParse(token, out var parsed, out _));
        Assert.Equal(Id, parsed.Id);
        Assert.Equal(["192.168.1.10:7444"], parsed.Gossip);
    }

    [Fact]
    public void Token_with_a_mistyped_id_is_refused()
    {
        var text = Id.ToString();
        var typo = (text[3] == 'A' ? "B" : "A") + "";
        var bad = string.Concat(text.AsSpan(0, 3), typo, text.AsSpan(4));
        var json = $$"""{"id":"{{bad}}","gossip":["10.0.0.1:7444"]}""";
        var token = InviteToken.Prefix + System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(json));
        Assert.False(InviteToken.TryParse(token, out _, out var error));
        Assert.Contains("check character", error, StringComparison.Ordinal);
        Assert.False(InviteToken.TryParse("imesh1.!!!", out _, out _));
        Assert.False(InviteToken.TryParse("hello", out _, out _));
    }

    [Fact]
    public void Join_adds_the_node_to_the_state_file_once()
    {
        var file = Path.Combine(TestPaths.NewTempDir("im-mesh-state"), "mesh-state.json");
        var invite = new InviteToken(Id, ["127.0.0.2:7444"], []);
        Assert.True(MeshStateFile.Add(file, invite));
        Assert.False(MeshStateFile.Add(file, invite with { Gossip = ["127.0.0.2:7555"] }));
        var joined = Assert.Single(MeshStateFile.Read(file));
        Assert.Equal(Id, joined.Id);
        Assert.Equal(["127.0.0.2:7555"], joined.Gossip);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }
}
