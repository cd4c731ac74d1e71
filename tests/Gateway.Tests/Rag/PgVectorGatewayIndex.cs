using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>
/// The gateway flags that select the PostgreSQL + pgvector index on the test server: a schema of this test's own and a
/// connection string in an environment variable of its own (as a user would set it: never on the command line).
/// Disposing drops the schema and clears the variable.
/// </summary>
internal sealed class PgVectorGatewayIndex : IDisposable
{
    private readonly string _variable = $"IM_TEST_RAG_POSTGRES_{Guid.NewGuid():N}";

    public PgVectorGatewayIndex()
    {
        Schema = TestPostgres.NewSchema(); // fails with the set-up hint when the server is not there
        Environment.SetEnvironmentVariable(_variable, TestPostgres.ConnectionString);
    }

    public string Schema { get; }

    public IReadOnlyList<string> Args => ["--rag-index", "postgres", "--rag-postgres-env", _variable, "--rag-postgres-schema", Schema];

    public void Dispose()
    {
        TestPostgres.DropSchema(Schema);
        Environment.SetEnvironmentVariable(_variable, null);
    }
}
