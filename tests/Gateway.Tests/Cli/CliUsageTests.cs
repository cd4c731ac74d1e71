using InferenceMesh.Gateway.Cli;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Cli;

/// <summary>Usage errors of the <c>models</c> and <c>files</c> groups, in process: one line each, exit 2, nothing written.</summary>
public sealed class CliUsageTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("im-cli-usage");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Exit, string Out, string Err)> Models(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await ModelsCli.RunAsync(args, output, error, new ModelsCliEnvironment(), CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("Unrecognized command or argument '--bogus'", "models", "quantize", "x.gguf", "Q8_0", "--bogus")]
    [InlineData("Cannot parse argument 'abc'", "models", "quantize", "x.gguf", "Q8_0", "-t", "abc")]
    [InlineData("A quantisation type is required", "models", "quantize", "x.gguf")]
    [InlineData("Required argument missing for option: '--models'", "models", "list", "--models")]
    public async Task A_parse_error_is_one_line_and_exit_2_without_the_help_text(string message, params string[] args)
    {
        var (exit, output, error) = await Models(args);

        Assert.Equal(ModelsCliExit.Usage, exit); // was 1, the code of a failed operation
        Assert.Empty(output);
        Assert.Contains($"inference-mesh: {message}", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Description:", error, StringComparison.Ordinal);
        Assert.EndsWith($"See 'inference-mesh {args[0]} {args[1]} --help'.", error.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_option_followed_by_another_option_is_missing_its_value()
    {
        // System.CommandLine took "--force" as the name: a model named "--force" was registered.
        var (exit, _, error) = await Models("models", "quantize", TestPaths.Stories260K, "Q8_0", "--name", "--force", "--models", _dir);

        Assert.Equal(ModelsCliExit.Usage, exit);
        Assert.Contains("inference-mesh: --name needs a value, not the option '--force'.", error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public async Task An_output_path_that_is_an_option_writes_no_file()
    {
        var (exit, _, error) = await Models("models", "quantize", TestPaths.Stories260K, "Q8_0", "-t", "1", "-o", "--force");

        Assert.Equal(ModelsCliExit.Usage, exit);
        Assert.Contains("-o needs a value, not the option '--force'", error, StringComparison.Ordinal);
        Assert.False(File.Exists("--force"));
    }

    [Fact]
    public async Task Files_usage_errors_are_one_line_and_exit_2()
    {
        var error = new StringWriter();
        var exit = await FilesCli.RunAsync(["files", "stores", "--data", "--help"], new StringWriter(), error, CancellationToken.None);

        Assert.Equal(ModelsCliExit.Usage, exit);
        Assert.Contains("inference-mesh: --data needs a value", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Description:", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("models", "pull", "http://127.0.0.1:9/m.gguf", "--models", "")]
    [InlineData("models", "quantize", "x.gguf", "Q8_0", "--models", " ")]
    public async Task An_empty_option_value_is_a_usage_error_not_a_stack_trace(params string[] args)
    {
        var (exit, _, error) = await Models(args);

        Assert.Equal(ModelsCliExit.Usage, exit);
        Assert.Contains("inference-mesh: --models needs a value, not an empty string.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Files_with_an_empty_data_folder_or_a_file_as_data_folder_is_one_line()
    {
        var file = Path.Combine(_dir, "not-a-folder");
        await File.WriteAllTextAsync(file, "x");
        var empty = new StringWriter();
        var isFile = new StringWriter();

        Assert.Equal(ModelsCliExit.Usage, await FilesCli.RunAsync(["files", "stores", "--data", ""], new StringWriter(), empty, CancellationToken.None));
        Assert.Equal(ModelsCliExit.Failed, await FilesCli.RunAsync(["files", "stores", "--data", file], new StringWriter(), isFile, CancellationToken.None));

        Assert.Contains("--data needs a value, not an empty string", empty.ToString(), StringComparison.Ordinal);
        Assert.StartsWith("inference-mesh: ", isFile.ToString(), StringComparison.Ordinal);
        Assert.Single(isFile.ToString().Trim().Split('\n')); // no stack trace
    }

    [Fact]
    public async Task Mesh_with_an_empty_data_folder_is_a_usage_error_not_a_crash()
    {
        var error = new StringWriter();

        Assert.Equal(2, await MeshCli.RunAsync(["mesh", "id", "--data", ""], new StringWriter(), error));
        Assert.Equal("inference-mesh: --data needs a path, not an empty string.", error.ToString().Trim());
    }

    [Fact]
    public async Task Mesh_join_without_a_token_is_a_usage_error_that_names_the_token()
    {
        var error = new StringWriter();
        var bad = new StringWriter();

        Assert.Equal(2, await MeshCli.RunAsync(["mesh", "join", "--data", _dir], new StringWriter(), error));
        Assert.Equal(1, await MeshCli.RunAsync(["mesh", "join", "imesh1.not-base64", "--data", _dir], new StringWriter(), bad));

        Assert.Equal("inference-mesh: 'mesh join' needs the invite TOKEN that 'mesh invite' prints on the node to join: inference-mesh mesh join TOKEN.", error.ToString().Trim());
        Assert.StartsWith("inference-mesh: invalid invite: ", bad.ToString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_dir)); // no state file
    }

    [Fact]
    public async Task Every_command_takes_an_argument_that_starts_with_two_dashes_as_a_missing_value()
    {
        // Before: files made a data folder named after the flag-like value, config check read "--prompt" as the config
        // file (exit 1), mesh read "--json" as the config file; the gateway's own flags already said "needs a value".
        var files = new StringWriter();
        var config = new StringWriter();
        var mesh = new StringWriter();

        Assert.Equal(2, await FilesCli.RunAsync(["files", "stores", "--data", "--im-test-data-7f3"], new StringWriter(), files, CancellationToken.None));
        Assert.Equal(2, ConfigCheckCli.Run(["config", "check", "--config", "--prompt", "hello"], new StringWriter(), config));
        Assert.Equal(2, await MeshCli.RunAsync(["mesh", "id", "--config", "--json"], new StringWriter(), mesh));

        Assert.Contains("inference-mesh: --data needs a value, not '--im-test-data-7f3' (a value that starts with '--' is written --data=--im-test-data-7f3).", files.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists("--im-test-data-7f3"));
        Assert.Equal("inference-mesh: --config needs a value (see --help).", config.ToString().Trim());
        Assert.Equal("inference-mesh: --config needs a path (see --help).", mesh.ToString().Trim());
    }

    [Fact]
    public async Task A_value_that_starts_with_two_dashes_is_given_after_an_equals_sign_and_a_dash_file_after_a_double_dash()
    {
        var text = Path.Combine(_dir, "a.txt");
        await File.WriteAllTextAsync(text, "text");
        var privacy = new StringWriter();
        var dashFile = new StringWriter();
        var afterDashes = new StringWriter();
        var output = new StringWriter();

        // The value is meant: it reaches --privacy's own check instead of being "missing".
        Assert.Equal(2, await FilesCli.RunAsync(["files", "add", text, "--store", "s", "--privacy=--secret", "--data", _dir], new StringWriter(), privacy, CancellationToken.None));
        // A file argument that starts with one dash is a path, and after "--" one that starts with two.
        Assert.Equal(2, await FilesCli.RunAsync(["files", "add", "-x", "--store", "s", "--data", _dir], new StringWriter(), dashFile, CancellationToken.None));
        Assert.Equal(2, await FilesCli.RunAsync(["files", "add", "--store", "s", "--data", _dir, "--", "--x"], new StringWriter(), afterDashes, CancellationToken.None));
        // mesh takes --data=DIR too.
        Assert.Equal(0, await MeshCli.RunAsync(["mesh", "id", $"--data={_dir}"], output, new StringWriter()));

        Assert.StartsWith("inference-mesh: --privacy must be public", privacy.ToString(), StringComparison.Ordinal);
        Assert.Equal($"inference-mesh: no such file: {Path.GetFullPath("-x")}", dashFile.ToString().Trim());
        Assert.Equal($"inference-mesh: no such file: {Path.GetFullPath("--x")}", afterDashes.ToString().Trim());
        Assert.True(File.Exists(Path.Combine(_dir, "node.key")), output.ToString());
    }

    [Fact]
    public async Task Cancelled_while_hashing_is_exit_130_with_one_line()
    {
        File.Copy(TestPaths.Stories260K, Path.Combine(_dir, "loose.gguf"));
        var error = new StringWriter();

        var exit = await ModelsCli.RunAsync(["models", "list", "--models", _dir], new StringWriter(), error, new ModelsCliEnvironment(), new CancellationToken(canceled: true));

        Assert.Equal(ModelsCliExit.Cancelled, exit);
        Assert.Equal("inference-mesh: cancelled.", error.ToString().Trim().Split('\n')[^1]);
        Assert.DoesNotContain("Exception", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_still_exits_0()
    {
        var (exit, output, _) = await Models("models", "quantize", "--help");

        Assert.Equal(ModelsCliExit.Ok, exit);
        Assert.Contains("--allow-requantize", output, StringComparison.Ordinal);
    }
}
