using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Mesh.Reputation;

namespace InferenceMesh.Gateway.Mesh;

/// <summary>
/// Checks a peer's receipt for a request this node sent it: from that peer (its key hashes to its id), for this node,
/// for this request body, signature valid. A valid one is stored; a missing or invalid one is logged and halves the
/// peer's reputation. Thread-safe.
/// </summary>
internal sealed partial class PeerReceiptChecker(NodeIdentity self, ReceiptStore receipts, PeerReputation reputation, TimeProvider time, ILogger<PeerReceiptChecker> logger)
{
    public ReceiptError Check(NodeId peer, string backend, string? wire, string requestHash)
    {
        var receipt = UsageReceipt.FromWire(wire);
        var error = wire is null ? ReceiptError.Missing
            : receipt is null ? ReceiptError.Malformed
            : receipt.Verify(peer, self.Id, requestHash);
        if (error == ReceiptError.None)
        {
            receipts.Add(receipt!, time.GetUtcNow());
            reputation.ReceiptAccepted(peer);
            Log.ReceiptStored(logger, backend, receipt!.PromptTokens, receipt.CompletionTokens);
        }
        else
        {
            reputation.ReceiptInvalid(peer);
            Log.ReceiptRefused(logger, backend, error, reputation.ScoreOf(peer));
        }

        return error;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2200, Level = LogLevel.Debug, Message = "Receipt from {Backend} verified and stored ({PromptTokens} + {CompletionTokens} tokens)")]
        public static partial void ReceiptStored(ILogger logger, string backend, int promptTokens, int completionTokens);

        [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Receipt from {Backend} refused: {Error}; reputation now {Reputation:0.00}")]
        public static partial void ReceiptRefused(ILogger logger, string backend, ReceiptError error, double reputation);
    }
}
