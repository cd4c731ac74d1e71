using InferenceMesh.Gateway.Cli;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>The offline <c>files</c> commands on a data folder, with the real engine (stories260K) for embeddings.</summary>
public sealed class FilesCliTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("im-files-cli");

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        string[] common = ["--data", Path.Combine(_dir, "data")];
        if (args.Length > 1 && args[1] != "stores")
        {
            common = [.. common, "--models", TestPaths.ModelsDir, "--threads", "1"];
        }

        var exit = await FilesCli.RunAsync([.. args, .. common], output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Add_indexes_files_into_a_new_store_and_search_finds_them_and_a_rerun_adds_nothing_twice()
    {
        _ = TestPaths.Stories260K;
        var walrus = Path.Combine(_dir, "walrus.txt");
        var garden = Path.Combine(_dir, "garden.md");
        await File.WriteAllTextAsync(walrus, "The walrus sleeps on the ice floe near the research station.");
        await File.WriteAllTextAsync(garden, "# Garden\n\nTomatoes need sun and water every morning.");

        var (exit, output, error) = await RunAsync("files", "add", walrus, garden, "--store", "notes", "--chunk-tokens", "100", "--overlap-tokens", "10");

        Assert.True(exit == 0, output + error);
        Assert.Contains("Created vector store vs_", error, StringComparison.Ordinal);
        Assert.Contains("notes", output, StringComparison.Ordinal);
        Assert.Contains("2 files indexed", output, StringComparison.Ordinal);
        var walrusId = output.Split('\n').Single(l => l.EndsWith("walrus.txt", StringComparison.Ordinal)).Split('\t')[0];

        var (again, againOutput, againError) = await RunAsync("files", "add", walrus, "--store", "notes");
        Assert.True(again == 0, againOutput + againError);
        Assert.StartsWith(walrusId + "\t", againOutput, StringComparison.Ordinal); // the same file, not a second copy
        Assert.Contains("2 files indexed", againOutput, StringComparison.Ordinal);

        var (searchExit, results, searchError) = await RunAsync("files", "search", "notes", "walrus ice floe", "-n", "1");
        Assert.True(searchExit == 0, searchError);
        Assert.Contains("walrus.txt #0", results, StringComparison.Ordinal);
        Assert.Contains("sleeps on the ice floe", results, StringComparison.Ordinal);

        var (storesExit, stores, _) = await RunAsync("files", "stores");
        Assert.Equal(0, storesExit);
        Assert.Contains("notes\tconfidential\tstories260K\t2/2 files\tcompleted", stores, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_deleted_while_files_are_added_is_one_line_and_exit_1_not_a_crash()
    {
        _ = TestPaths.Stories260K;
        var first = Path.Combine(_dir, "first.txt");
        var second = Path.Combine(_dir, "second.txt");
        await File.WriteAllTextAsync(first, "The walrus sleeps on the ice floe.");
        await File.WriteAllTextAsync(second, "Tomatoes need sun and water every morning.");
        var (created, createdOutput, createdError) = await RunAsync("files", "add", first, "--store", "notes");
        Assert.True(created == 0, createdOutput + createdError);

        // What a gateway on the same data folder deleting the store does, at the one moment that matters: when the
        // next file's ingestion completes, the store goes (in that same write, so every run sees it).
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dir, "data", InferenceMesh.ContextStore.Storage.ContextDatabase.FileName)}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TRIGGER store_deleted AFTER UPDATE OF status ON rag_vector_store_files WHEN NEW.status = 'completed' "
                + "BEGIN DELETE FROM rag_vector_stores WHERE seq = NEW.store_seq; END;";
            command.ExecuteNonQuery();
        }

        var (exit, output, error) = await RunAsync("files", "add", second, "--store", "notes");

        Assert.Equal(1, exit);
        Assert.Contains("was deleted while the files were added", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", output + error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_arguments_exit_2_with_one_line()
    {
        var (missing, _, missingError) = await RunAsync("files", "add", Path.Combine(_dir, "nope.txt"), "--store", "x");
        Assert.Equal(2, missing);
        Assert.StartsWith("inference-mesh: no such file:", missingError, StringComparison.Ordinal);

        var (unknown, _, unknownError) = await RunAsync("files", "search", "no-such-store", "query");
        Assert.Equal(2, unknown);
        Assert.Contains("no vector store named 'no-such-store'", unknownError, StringComparison.Ordinal);

        var path = Path.Combine(_dir, "a.txt");
        await File.WriteAllTextAsync(path, "text");
        var (privacy, _, privacyError) = await RunAsync("files", "add", path, "--store", "x", "--privacy", "secret");
        Assert.Equal(2, privacy);
        Assert.Contains("--privacy", privacyError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_refuses_a_device_a_fifo_a_directory_and_a_file_over_the_limit_without_reading_them()
    {
        var fifo = Path.Combine(_dir, "pipe.txt");
        TestFifo.Create(fifo);
        var large = Path.Combine(_dir, "large.txt");
        await File.WriteAllTextAsync(large, new string('x', 2048));

        // Hashing /dev/zero never ended and opening the FIFO waited for a writer; the large file was read in full and
        // then failed its upload (exit 1).
        (string Path, string Reason)[] cases =
        [
            ("/dev/zero", "/dev/zero is not a regular file (a FIFO, a device or a socket)."),
            (fifo, $"{fifo} is not a regular file (a FIFO, a device or a socket)."),
            (_dir, $"{_dir} is a directory, not a file."),
            (large, $"{large} is larger than the upload limit of 1024 bytes (--max-file-bytes)."),
        ];
        foreach (var (path, reason) in cases)
        {
            var (exit, output, error) = await RunAsync("files", "add", path, "--store", "notes", "--max-file-bytes", "1024");

            Assert.Equal(2, exit);
            Assert.Empty(output);
            Assert.Equal($"inference-mesh: {reason}", error.Trim());
        }

        Assert.False(Directory.Exists(Path.Combine(_dir, "data")), "nothing was opened or uploaded");
    }

    [Fact]
    public async Task With_the_postgres_index_add_and_search_keep_the_chunks_on_the_server()
    {
        _ = TestPaths.Stories260K;
        using var index = new PgVectorGatewayIndex();
        var walrus = Path.Combine(_dir, "walrus.txt");
        await File.WriteAllTextAsync(walrus, "The walrus sleeps on the ice floe near the research station.");

        var (exit, output, error) = await RunAsync(["files", "add", walrus, "--store", "notes", "--chunk-tokens", "100", "--overlap-tokens", "10", .. index.Args]);
        Assert.True(exit == 0, output + error);
        var (searchExit, results, searchError) = await RunAsync(["files", "search", "notes", "walrus ice floe", "-n", "1", .. index.Args]);

        Assert.True(searchExit == 0, searchError);
        Assert.Contains("sleeps on the ice floe", results, StringComparison.Ordinal);
        Assert.True(TestPostgres.Scalar<long>(index.Schema, "SELECT count(*) FROM rag_chunks;") > 0);
        var (badExit, _, badError) = await RunAsync("files", "search", "notes", "walrus", "--rag-index", "postgres", "--rag-postgres-env", "IM_TEST_UNSET_VARIABLE_c41e");
        Assert.Equal(2, badExit);
        Assert.Contains("IM_TEST_UNSET_VARIABLE_c41e is not set", badError, StringComparison.Ordinal);
    }
}
