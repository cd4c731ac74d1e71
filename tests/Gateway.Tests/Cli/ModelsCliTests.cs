using System.Text.Json;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.ModelCache.Downloads;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Cli;

/// <summary>The <c>models</c> commands in-process (ModelsCli.RunAsync with StringWriters) against a loopback server.</summary>
public sealed class ModelsCliTests : IAsyncLifetime
{
    private static readonly ModelsCliEnvironment Environment = new() { Download = new DownloadOptions { RetryDelay = TimeSpan.Zero } };

    private LoopbackModelServer _server = null!;
    private string _dir = null!;
    private byte[] _stories = null!;
    private string _sha = null!;

    public async Task InitializeAsync()
    {
        _server = await LoopbackModelServer.StartAsync();
        _dir = TestPaths.NewTempDir();
        _stories = File.ReadAllBytes(TestPaths.Stories260K);
        _sha = LoopbackModelServer.Sha256Hex(_stories);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await ModelsCli.RunAsync(args, output, error, Environment, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Pull_List_Verify_Rm()
    {
        _server.Serve("/models/stories260K.gguf", _stories);
        File.Copy(TestPaths.Stories260K, Path.Combine(_dir, "loose.gguf"));

        var pull = await Run("models", "pull", _server.Url("/models/stories260K.gguf").AbsoluteUri, "--sha256", _sha, "--name", "tiny", "--models", _dir);
        Assert.True(pull.Exit == 0, pull.Err);
        Assert.Contains($"Pulled tiny: sha256 {_sha}", pull.Out);

        var list = await Run("models", "list", "--models", _dir, "--json");
        Assert.True(list.Exit == 0, list.Err);
        using var json = JsonDocument.Parse(list.Out);
        var entries = json.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal(["loose", "tiny"], entries.Keys.Order(StringComparer.Ordinal));
        var tiny = entries["tiny"];
        Assert.Equal(Path.Combine(_dir, "blobs", "sha256-" + _sha), tiny.GetProperty("path").GetString());
        Assert.Equal(_sha, tiny.GetProperty("sha256").GetString());
        Assert.Equal(_stories.Length, tiny.GetProperty("size").GetInt64());
        Assert.Equal("F32", tiny.GetProperty("quantization").GetString());
        Assert.Equal("loose", entries["loose"].GetProperty("kind").GetString());
        Assert.Equal(_sha, entries["loose"].GetProperty("sha256").GetString());

        var verify = await Run("models", "verify", "--models", _dir);
        Assert.True(verify.Exit == 0, verify.Err);
        Assert.Contains("2 files verified.", verify.Out);

        var rm = await Run("models", "rm", "tiny", "--models", _dir);
        Assert.Equal(0, rm.Exit);
        Assert.False(File.Exists(Path.Combine(_dir, "blobs", "sha256-" + _sha)));
        Assert.Equal(1, (await Run("models", "rm", "tiny", "--models", _dir)).Exit);
    }

    [Fact]
    public async Task Verify_NamesTheFileThatDoesNotMatch_AndFetchesItAgain()
    {
        _server.Serve("/m.gguf", _stories);
        Assert.Equal(0, (await Run("models", "pull", _server.Url("/m.gguf").AbsoluteUri, "--sha256", _sha, "--models", _dir)).Exit);
        var blob = Path.Combine(_dir, "blobs", "sha256-" + _sha);
        var corrupt = _stories.ToArray();
        corrupt[^1] ^= 1;
        File.WriteAllBytes(blob, corrupt);

        var verify = await Run("models", "verify", "--models", _dir);

        Assert.Equal(1, verify.Exit);
        Assert.Contains($"MISMATCH {blob} (m)", verify.Err);
        Assert.Contains("fetched again", verify.Err);
        Assert.Equal(_stories, File.ReadAllBytes(blob));
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "quarantine")));
        Assert.Equal(0, (await Run("models", "verify", "--models", _dir)).Exit);
    }

    [Fact]
    public async Task Pull_WrongDigest_FailsClearly_AndRegistersNothing()
    {
        _server.Serve("/m.gguf", _stories);
        var wrong = new string('0', 64);

        var pull = await Run("models", "pull", _server.Url("/m.gguf").AbsoluteUri, "--sha256", wrong, "--models", _dir);

        Assert.Equal(1, pull.Exit);
        Assert.Contains($"expected {wrong}", pull.Err);
        Assert.Contains("nothing was registered", pull.Err);
        var list = await Run("models", "list", "--models", _dir, "--json");
        Assert.Equal("[]", list.Out.Trim());
    }

    [Theory]
    [InlineData("--sha256", "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "64 lowercase hex")]
    [InlineData("--sha256", "sha256:0123", "64 lowercase hex")]
    [InlineData("--name", "../../escape", "path separators")]
    [InlineData("--name", "CON", "device name")]
    public async Task Pull_BadArguments_AreUsageErrors(string option, string value, string message)
    {
        var sandbox = TestPaths.NewTempDir();
        var dir = Path.Combine(sandbox, "models");
        var pull = await Run("models", "pull", _server.Url("/m.gguf").AbsoluteUri, option, value, "--models", dir);
        Assert.Equal(2, pull.Exit);
        Assert.Contains(message, pull.Err);
        Assert.Empty(Directory.GetFileSystemEntries(sandbox));
    }

    [Theory]
    [InlineData("--models", "MODELS")]
    [InlineData("--mirror", "http://127.0.0.1:9/m.gguf")]
    public async Task Pull_OfAMagnet_RefusesOptionsItCannotHonour(string option, string value)
    {
        // A BitTorrent pull is done by the running gateway, into its own store: the option would be ignored.
        var sandbox = TestPaths.NewTempDir();
        var magnet = "magnet:?xt=urn:btih:" + new string('a', 40) + "&dn=tiny.gguf";
        var pull = await Run("models", "pull", magnet, option, value.Replace("MODELS", Path.Combine(sandbox, "models"), StringComparison.Ordinal),
            "--gateway", "http://127.0.0.1:9");
        Assert.Equal(2, pull.Exit);
        Assert.Contains("do not apply to a BitTorrent pull", Assert.Single(pull.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Empty(Directory.GetFileSystemEntries(sandbox));
    }

    [Fact]
    public async Task Pull_NameFromAnUnsafeUrl_IsRefused()
    {
        var pull = await Run("models", "pull", _server.Url("/x/..%2F..%2FCON.gguf").AbsoluteUri, "--models", _dir);
        Assert.Equal(2, pull.Exit);
        Assert.Contains("--name", pull.Err);
    }

    [Theory]
    [InlineData("list")]
    [InlineData("list --json")]
    [InlineData("verify")]
    [InlineData("rm tiny")]
    [InlineData("recommend")]
    [InlineData("adapter add STORIES --base tiny")]
    [InlineData("adapter rm tiny-lora")]
    [InlineData("quantize tiny Q8_0")]
    public async Task AModelsFolderThatDoesNotExist_IsAOneLineUsageError_AndIsNotCreated(string command)
    {
        var sandbox = TestPaths.NewTempDir();
        var missing = Path.Combine(sandbox, "no-such-models");

        var run = await Run(["models", .. command.Replace("STORIES", TestPaths.Stories260K).Split(' '), "--models", missing]);

        Assert.Equal(ModelsCliExit.Usage, run.Exit);
        Assert.Equal("", run.Out);
        Assert.Contains($"models folder '{missing}' does not exist", Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Empty(Directory.GetFileSystemEntries(sandbox));
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("pull URL")] // pull and quantize create the folder they are given: over a file that threw (a stack trace)
    [InlineData("quantize STORIES Q8_0")]
    public async Task AModelsFolderThatIsAFile_IsAUsageError(string command)
    {
        var file = Path.Combine(_dir, "not-a-folder");
        File.WriteAllText(file, "x");
        _server.Serve("/m.gguf", _stories);
        var args = command.Replace("STORIES", TestPaths.Stories260K).Replace("URL", _server.Url("/m.gguf").AbsoluteUri).Split(' ');

        var run = await Run(["models", .. args, "--models", file]);

        Assert.Equal(ModelsCliExit.Usage, run.Exit);
        Assert.Equal($"inference-mesh: --models '{file}' is a file, not a folder.", run.Err.Trim());
    }

    [Fact]
    public async Task AManifestThatIsNotADatabase_IsOneLine_NotAStackTrace()
    {
        var dir = Path.Combine(_dir, "damaged");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "manifest.db"), new string('x', 4096));

        var run = await Run("models", "list", "--models", dir);

        Assert.Equal(ModelsCliExit.Failed, run.Exit);
        Assert.StartsWith($"inference-mesh: The models folder's manifest '{Path.Combine(dir, "manifest.db")}' cannot be opened:", Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_IntoAFolderThatDoesNotExist_CreatesIt()
    {
        _server.Serve("/m.gguf", _stories);
        var dir = Path.Combine(_dir, "new", "models");

        var pull = await Run("models", "pull", _server.Url("/m.gguf").AbsoluteUri, "--sha256", _sha, "--models", dir);

        Assert.True(pull.Exit == 0, pull.Err);
        Assert.True(File.Exists(Path.Combine(dir, "blobs", "sha256-" + _sha)));
    }

    [Fact]
    public async Task UnknownSubcommand_IsAUsageError()
    {
        var run = await Run("models", "frobnicate");
        Assert.NotEqual(0, run.Exit);
    }
}
