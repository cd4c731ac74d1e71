using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Tests;

namespace InferenceMesh.Mesh.Tests.Receipts;

public sealed class UsageReceiptTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("im-receipts");
    private readonly NodeIdentity _server;
    private readonly NodeIdentity _client;
    private readonly NodeIdentity _other;

    public UsageReceiptTests()
    {
        _server = NodeIdentity.LoadOrCreate(Path.Combine(_dir, "server.key"));
        _client = NodeIdentity.LoadOrCreate(Path.Combine(_dir, "client.key"));
        _other = NodeIdentity.LoadOrCreate(Path.Combine(_dir, "other.key"));
    }

    public void Dispose()
    {
        _server.Dispose();
        _client.Dispose();
        _other.Dispose();
    }

    private UsageReceipt Unsigned() => new()
    {
        Server = _server.Id.ToString(),
        Client = _client.Id.ToString(),
        RequestSha256 = UsageReceipt.Sha256Hex("{\"model\":\"m\"}"u8),
        Model = "stories260K",
        ModelSha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
        PromptTokens = 5,
        CompletionTokens = 12,
        TimeMs = 1_764_979_200_000,
    };

    [Fact]
    public void Canonical_encoding_is_the_documented_lines()
    {
        var text = System.Text.Encoding.UTF8.GetString(Unsigned().CanonicalBytes());
        Assert.Equal(
            $"imesh-receipt-v1\n{_server.Id}\n{_client.Id}\n{Unsigned().RequestSha256}\nstories260K\n270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d\n5\n12\n1764979200000\n",
            text);
    }

    [Fact]
    public void A_signed_receipt_verifies_after_a_wire_round_trip()
    {
        var receipt = Unsigned().Sign(_server);
        var back = UsageReceipt.FromWire(receipt.ToWire());

        Assert.Equal(receipt, back);
        Assert.Equal(ReceiptError.None, back!.Verify(_server.Id, _client.Id, receipt.RequestSha256));
    }

    [Fact]
    public void Tampering_wrong_parties_and_foreign_keys_are_refused()
    {
        var receipt = Unsigned().Sign(_server);

        Assert.Equal(ReceiptError.BadSignature, (receipt with { CompletionTokens = 13 }).Verify(_server.Id, _client.Id, receipt.RequestSha256));
        Assert.Equal(ReceiptError.BadSignature, (receipt with { ModelSha256 = new string('0', 64) }).Verify(_server.Id, _client.Id, receipt.RequestSha256));
        Assert.Equal(ReceiptError.WrongServer, receipt.Verify(_other.Id, _client.Id, receipt.RequestSha256));
        Assert.Equal(ReceiptError.WrongClient, receipt.Verify(_server.Id, _other.Id, receipt.RequestSha256));
        Assert.Equal(ReceiptError.WrongRequest, receipt.Verify(_server.Id, _client.Id, new string('f', 64)));

        // Signed by another key that claims to be the server: the key does not hash to the server's id.
        var forged = Unsigned().Sign(_other) with { Server = _server.Id.ToString() };
        Assert.Equal(ReceiptError.WrongKey, forged.Verify(_server.Id, _client.Id, receipt.RequestSha256));
        Assert.Equal(ReceiptError.BadSignature, (receipt with { Signature = "not base64!" }).Verify(_server.Id, _client.Id, receipt.RequestSha256));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("%%%")]
    [InlineData("e30")] // {}: required fields missing
    public void Malformed_wire_gives_null(string? wire) => Assert.Null(UsageReceipt.FromWire(wire));

    [Fact]
    public void Store_keeps_receipts_verifiable_and_lists_them_in_order()
    {
        var store = new ReceiptStore(_dir);
        Assert.Empty(store.List());
        var first = Unsigned().Sign(_server);
        var second = (Unsigned() with { CompletionTokens = 3 }).Sign(_server);
        store.Add(first, DateTimeOffset.UnixEpoch);
        store.Add(second, DateTimeOffset.UnixEpoch);

        var listed = new ReceiptStore(_dir).List();
        Assert.Equal([first, second], listed.Select(r => r.Receipt));
        Assert.All(listed, r => Assert.Equal(ReceiptError.None, r.Receipt.Verify(_server.Id, _client.Id, r.Receipt.RequestSha256)));
        Assert.Contains("\"completion_tokens\":3", ReceiptStore.ToJson(listed));
    }
}
