using System.Security.Cryptography;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Tests.Identity;

public sealed class NodeIdTests
{
    private static NodeId SampleId() => NodeId.FromHash(SHA256.HashData("sample"u8));

    [Fact]
    public void Printed_id_is_eight_groups_of_seven_and_parses_back()
    {
        var id = SampleId();
        var text = id.ToString();
        Assert.Matches("^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$", text);
        Assert.Equal(id, NodeId.Parse(text));
        Assert.Equal(id, NodeId.Parse(text.ToLowerInvariant().Replace("-", " ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Every_one_character_typo_is_detected()
    {
        var text = SampleId().ToString();
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var checkedTypos = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '-')
            {
                continue;
            }

            foreach (var c in alphabet)
            {
                if (c == text[i])
                {
                    continue;
                }

                var typo = string.Concat(text.AsSpan(0, i), c.ToString(), text.AsSpan(i + 1));
                Assert.False(NodeId.TryParse(typo, out _, out var error), $"typo at {i} accepted");
                Assert.Contains("check character", error, StringComparison.Ordinal);
                checkedTypos++;
            }
        }

        Assert.Equal(56 * 31, checkedTypos);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("ABC", "56 characters")]
    [InlineData("0000000-0000000-0000000-0000000-0000000-0000000-0000000-0000000", "not a node id character")]
    public void Malformed_ids_are_refused_with_a_reason(string text, string reason)
    {
        Assert.False(NodeId.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Id_is_sha256_of_the_public_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        Assert.True(NodeId.FromPublicKey(spki).Hash.SequenceEqual(SHA256.HashData(spki)));
    }
}
