using System.CommandLine;
using System.Security.Cryptography;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Cli;

/// <summary><c>models quantize</c> end to end: the real stories260K, the real quantiser, a store in a temp folder.</summary>
public sealed class ModelsQuantizeCommandTests : IDisposable
{
    private readonly string _models = TestPaths.NewTempDir("im-quant-cli");
    private readonly StringWriter _output = new();
    private readonly StringWriter _error = new();

    public void Dispose() => Directory.Delete(_models, recursive: true);

    private Task<int> RunAsync(params string[] args)
    {
        var root = new RootCommand("test") { ModelsQuantizeCommand.Create(new ModelsCliEnvironment()) };
        return root.Parse(["quantize", .. args, "--models", _models]).InvokeAsync(new InvocationConfiguration { Output = _output, Error = _error });
    }

    [Fact]
    public async Task Registers_the_quantised_model_in_the_store_with_its_lineage()
    {
        var exit = await RunAsync(TestPaths.Stories260K, "q8_0", "-t", "1");

        Assert.True(exit == ModelsCliExit.Ok, _error.ToString());
        var store = ModelStoreFactory.Open(_models);
        var model = store.Find("stories260K-Q8_0");
        Assert.NotNull(model);
        Assert.Equal("Q8_0", model.Metadata.Quantization);
        Assert.Equal("Q8_0", model.Lineage?.QuantizationType);
        Assert.Equal(Sha256(TestPaths.Stories260K), model.Lineage?.SourceDigest?.Hex);
        Assert.Equal(7u, GgufReader.Read(model.Path).File!.FileType);
        Assert.Contains("stories260K-Q8_0", _output.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(store.Layout.Blobs, ".*")); // no temporary file left behind
    }

    [Fact]
    public async Task The_type_may_be_given_as_type_the_acceptance_interfaces_spelling()
    {
        var exit = await RunAsync(TestPaths.Stories260K, "--type", "Q8_0", "-t", "1", "--name", "via-option");

        Assert.True(exit == ModelsCliExit.Ok, _error.ToString());
        Assert.Equal("Q8_0", ModelStoreFactory.Open(_models).Find("via-option")?.Metadata.Quantization);
    }

    [Theory]
    [InlineData(new string[0], "A quantisation type is required")]
    [InlineData(new[] { "Q8_0", "--type", "Q4_0" }, "Two quantisation types given")]
    public async Task No_type_or_two_different_types_are_a_usage_error(string[] typeArgs, string message)
    {
        var exit = await RunAsync([TestPaths.Stories260K, .. typeArgs]);

        Assert.NotEqual(ModelsCliExit.Ok, exit);
        Assert.Contains(message, _error.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_models, "*.gguf", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Writes_a_plain_file_with_output()
    {
        var output = Path.Combine(_models, "out.gguf");
        Assert.Equal(ModelsCliExit.Ok, await RunAsync(TestPaths.Stories260K, "Q4_0", "-t", "1", "-o", output));
        Assert.Equal(2u, GgufReader.Read(output).File!.FileType);
    }

    [Fact]
    public async Task An_unknown_type_is_a_usage_error_naming_the_known_types()
    {
        Assert.Equal(ModelsCliExit.Usage, await RunAsync(TestPaths.Stories260K, "Q9_9"));
        Assert.Contains("unknown quantisation type 'Q9_9'", _error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Q4_K_M", _error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broken_input_is_refused_before_llama_cpp_sees_it()
    {
        var broken = Path.Combine(_models, "broken.gguf");
        var bytes = await File.ReadAllBytesAsync(TestPaths.Stories260K);
        await File.WriteAllBytesAsync(broken, bytes[..(bytes.Length / 2)]); // truncated: the tensor data is cut

        Assert.Equal(ModelsCliExit.Usage, await RunAsync(broken, "Q8_0", "-o", Path.Combine(_models, "o.gguf")));
        Assert.Contains("not a valid GGUF file", _error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_models, "o.gguf")));
    }

    [Fact]
    public async Task An_already_quantised_input_needs_allow_requantize()
    {
        var q8 = Path.Combine(_models, "q8.gguf");
        Assert.Equal(ModelsCliExit.Ok, await RunAsync(TestPaths.Stories260K, "Q8_0", "-t", "1", "-o", q8));
        Assert.Equal(ModelsCliExit.Usage, await RunAsync(q8, "Q4_0", "-o", Path.Combine(_models, "q4.gguf")));
        Assert.Contains("already quantised (Q8_0)", _error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_model_name_is_a_usage_error()
    {
        Assert.Equal(ModelsCliExit.Usage, await RunAsync("no-such-model", "Q8_0"));
        Assert.Contains("neither a file nor a model", _error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_output_path_is_a_usage_error_not_a_stack_trace()
    {
        Assert.Equal(ModelsCliExit.Usage, await RunAsync(TestPaths.Stories260K, "Q8_0", "-o", ""));
        Assert.Equal("inference-mesh: --output needs a file path.", _error.ToString().Trim());
    }

    [Fact]
    public async Task An_output_that_is_a_folder_is_refused_before_quantising()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_models, "out.gguf")).FullName;

        Assert.Equal(ModelsCliExit.Usage, await RunAsync(TestPaths.Stories260K, "Q8_0", "-t", "1", "-o", folder));
        Assert.Contains("is a folder, not a file", _error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("quantising", _error.ToString(), StringComparison.Ordinal); // refused before the native run
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public async Task An_input_linked_to_the_output_is_the_same_file_even_with_force()
    {
        var original = Path.Combine(_models, "original.gguf");
        File.Copy(TestPaths.Stories260K, original);
        var link = Path.Combine(_models, "link.gguf");
        File.CreateSymbolicLink(link, original);

        Assert.Equal(ModelsCliExit.Usage, await RunAsync(link, "Q8_0", "-t", "1", "-o", original, "--force"));
        Assert.Contains("the same file", _error.ToString(), StringComparison.Ordinal);
        Assert.Equal(Sha256(TestPaths.Stories260K), Sha256(original)); // the F32 original is still there
    }

    [Fact]
    public async Task A_fifo_or_a_device_as_input_is_refused_without_reading_it()
    {
        var fifo = Path.Combine(_models, "pipe.gguf");
        TestFifo.Create(fifo);

        // Reading the FIFO blocked forever (no writer) before the fix.
        Assert.Equal(ModelsCliExit.Usage, await RunAsync(fifo, "Q8_0", "-o", Path.Combine(_models, "a.gguf")));
        Assert.Equal(ModelsCliExit.Usage, await RunAsync("/dev/zero", "Q8_0", "-o", Path.Combine(_models, "b.gguf")));
        Assert.Equal(2, _error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("not a regular file", StringComparison.Ordinal)));
        Assert.Equal([fifo], Directory.GetFiles(_models, "*.gguf"));
    }

    [Fact]
    public async Task A_loose_file_of_the_new_name_not_hashed_yet_is_refused_before_quantising()
    {
        var loose = Path.Combine(_models, "stories260K-Q8_0.GGUF");
        File.Copy(TestPaths.Stories260K, loose);

        // The import found the name taken only after the whole quantisation, and failed (exit 1).
        Assert.Equal(ModelsCliExit.Usage, await RunAsync(TestPaths.Stories260K, "Q8_0", "-t", "1"));
        Assert.Equal(
            "inference-mesh: a model named 'stories260K-Q8_0' exists (the file 'stories260K-Q8_0.GGUF' in the models folder); choose --name, or pass --force to replace the file.",
            _error.ToString().Trim());
        Assert.Equal(Sha256(TestPaths.Stories260K), Sha256(loose));
    }

    [Fact]
    public async Task Force_replaces_a_loose_file_of_the_new_name_with_the_quantised_model()
    {
        var loose = Path.Combine(_models, "stories260K-Q8_0.gguf");
        File.Copy(TestPaths.Stories260K, loose);
        await ModelStoreFactory.Open(_models).SyncLooseFilesAsync(null, CancellationToken.None); // hashed or not: the same
        File.Copy(TestPaths.Stories260K, Path.Combine(_models, "other.gguf"));

        // --force ("replace an existing store name") quantised, then failed at the import: the loose file won.
        var exit = await RunAsync(TestPaths.Stories260K, "Q8_0", "-t", "1", "--force");

        Assert.True(exit == ModelsCliExit.Ok, _error.ToString());
        Assert.False(File.Exists(loose));
        var model = ModelStoreFactory.Open(_models).Find("stories260K-Q8_0");
        Assert.Equal(("Q8_0", "Q8_0"), (model?.Metadata.Quantization, model?.Lineage?.QuantizationType));
        Assert.Null(model!.LooseFileName);
        Assert.True(File.Exists(Path.Combine(_models, "other.gguf")));
    }

    [Fact]
    public async Task Threads_out_of_range_are_a_usage_error()
    {
        Assert.Equal(ModelsCliExit.Usage, await RunAsync(TestPaths.Stories260K, "Q8_0", "-t", "0", "-o", Path.Combine(_models, "t.gguf")));
        Assert.Contains("Threads must be between 1", _error.ToString(), StringComparison.Ordinal);
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
