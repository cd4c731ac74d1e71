using System.Text;

namespace InferenceMesh.Bench.Classifier;

/// <summary>Deterministic benchmark prompts of about 8 KB.</summary>
internal static class Prompts
{
    public const int TargetLength = 8 * 1024;

    /// <summary>Prose and C# code, as pasted into an assistant, with a few PII items and one key spread through it.</summary>
    public static string Mixed => field ??= Build(withPii: true);

    /// <summary>The same prose and code without any PII: the common case.</summary>
    public static string Clean => field ??= Build(withPii: false);

    private static readonly string[] Prose =
    [
        "We are migrating the billing service from the old monolith to a set of smaller services, and the retry logic below keeps timing out under load. ",
        "The team agreed to keep the public API unchanged for version 2.3.1 and to move the reconciliation job to a nightly schedule at 02:00 UTC. ",
        "Could you explain why the connection pool is exhausted after roughly 1500 requests, and suggest a fix that does not change the interface? ",
        "Our dashboards show p95 latency of 180 ms and p99 of 420 ms; the target from the 2024-03-01 review is 250 ms at p99. ",
        "Please keep the answer short, list the changes as bullet points, and point out anything that would break existing callers. ",
    ];

    private const string Code = """
        public sealed class InvoiceRepository(NpgsqlDataSource dataSource, ILogger<InvoiceRepository> logger)
        {
            public async Task<Invoice?> FindAsync(long id, CancellationToken cancellationToken)
            {
                await using var command = dataSource.CreateCommand("select id, customer_id, total, due from invoices where id = $1");
                command.Parameters.AddWithValue(id);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    logger.LogDebug("Invoice {Id} not found", id);
                    return null;
                }

                return new Invoice(reader.GetInt64(0), reader.GetInt64(1), reader.GetDecimal(2), reader.GetDateTime(3));
            }
        }

        """;

    private static readonly string[] Pii =
    [
        "The customer who reported it is jane.doe@example.com, reachable on +44 20 7946 0958. ",
        "Refunds go to GB82 WEST 1234 5698 7654 32 and the test card was 4111 1111 1111 1111. ",
        "The staging config still had aws_access_key_id = AKIAIOSFODNN7EXAMPLE in it, and the database is at 10.20.30.40. ",
    ];

    private static string Build(bool withPii)
    {
        var text = new StringBuilder(TargetLength + 512);
        var round = 0;
        while (text.Length < TargetLength)
        {
            foreach (var sentence in Prose)
            {
                text.Append(sentence);
            }

            text.Append('\n').Append(Code);
            if (withPii && round < Pii.Length)
            {
                text.Append(Pii[round]).Append('\n');
            }

            round++;
        }

        return text.ToString(0, TargetLength);
    }
}
