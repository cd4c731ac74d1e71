using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Hosting;

public sealed class GatewayOptionsTests
{
    [Fact]
    public void Defaults_are_loopback_8080_and_xdg_models_folder()
    {
        var parsed = GatewayCommandLine.Parse([]);

        var options = Assert.IsType<GatewayOptions>(parsed.Options);
        Assert.Equal("127.0.0.1", options.Host);
        Assert.Equal(8080, options.Port);
        Assert.Null(options.Threads);
        Assert.True(options.AdaptiveThreads);
        Assert.False(options.TorrentEngineEagerStart);
        Assert.Null(options.Slots);
        Assert.Null(options.ContextLength);
        Assert.Equal(8L * 1024 * 1024, options.MaxRequestBodyBytes);
        Assert.Empty(options.AllowedHosts);
        Assert.EndsWith(Path.Combine("inference-mesh", "models"), options.ModelsDirectory);
        Assert.Null(options.Validate());
    }

    [Fact]
    public void Flags_are_parsed_in_both_forms()
    {
        var parsed = GatewayCommandLine.Parse(["--models", "/tmp/m", "--port=9000", "--threads", "2", "--decode-threads", "fixed", "--host", "localhost", "--slots", "3", "--ctx", "128", "--allowed-hosts", "a.example, b.example", "--max-body-bytes", "4096", "--torrent-engine-start", "eager"]);

        var options = Assert.IsType<GatewayOptions>(parsed.Options);
        Assert.True(options.TorrentEngineEagerStart);
        Assert.Equal("/tmp/m", options.ModelsDirectory);
        Assert.Equal(9000, options.Port);
        Assert.Equal(2, options.Threads);
        Assert.False(options.AdaptiveThreads);
        Assert.Equal("localhost", options.Host);
        Assert.Equal(3, options.Slots);
        Assert.Equal(128, options.ContextLength);
        Assert.Equal(["a.example", "b.example"], options.AllowedHosts);
        Assert.Equal(4096, options.MaxRequestBodyBytes);
    }

    [Theory]
    [InlineData(new[] { "--port", "70000" }, "--port must be from 0 to 65535 (got 70000).")]
    [InlineData(new[] { "--port", "x" }, "--port must be an integer (got 'x').")]
    [InlineData(new[] { "--threads", "0" }, "--threads must be from 1 to 1024 (got 0).")]
    [InlineData(new[] { "--slots", "0" }, "--slots must be from 1 to 256 (got 0).")]
    [InlineData(new[] { "--ctx", "8" }, "--ctx must be from 16 to 1048576 tokens (got 8).")]
    [InlineData(new[] { "--host", "example.com" }, "--host must be an IP address or 'localhost' (got 'example.com').")]
    [InlineData(new[] { "--max-body-bytes", "10" }, "--max-body-bytes must be at least 1024 (got 10).")]
    [InlineData(new[] { "--bogus", "1" }, "Unknown flag '--bogus' (see --help).")]
    [InlineData(new[] { "--port" }, "--port needs a value (see --help).")]
    [InlineData(new[] { "--models", "--port", "8080" }, "--models needs a value (see --help).")] // not a models folder named "--port"
    [InlineData(new[] { "--port", "--threads", "2" }, "--port needs a value (see --help).")]
    [InlineData(new[] { "--data", "-h" }, "--data needs a value (see --help).")] // an option name, as in every command group
    [InlineData(new[] { "stray" }, "Unexpected argument 'stray'; flags start with '--' (see --help).")]
    [InlineData(new[] { "--decode-threads", "auto" }, "--decode-threads must be adaptive or fixed (got 'auto').")]
    public void Invalid_flags_give_one_line_errors(string[] args, string expected)
    {
        var parsed = GatewayCommandLine.Parse(args);

        Assert.Null(parsed.Options);
        Assert.Equal(expected, parsed.Error);
        Assert.DoesNotContain('\n', parsed.Error!);
    }

    [Fact]
    public void A_folder_flag_naming_a_file_or_a_missing_policies_folder_is_a_one_line_error()
    {
        var dir = TestPaths.NewTempDir("im-flags");
        var file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "not a folder");
        var missing = Path.Combine(dir, "missing");

        // --models FILE stopped start-up with a stack trace, --data FILE with a hosting failure, and a --policies
        // folder that is not there silently gave the built-in default policy instead of the operator's.
        Assert.Equal($"--models must name a folder; '{file}' is a file.", GatewayCommandLine.Parse(["--models", file]).Error);
        Assert.Equal($"--data must name a folder; '{file}' is a file.", GatewayCommandLine.Parse(["--data", file]).Error);
        Assert.Equal($"--policies must name a folder; '{file}' is a file.", GatewayCommandLine.Parse(["--policies", file]).Error);
        Assert.Equal($"--policies: the folder '{missing}' does not exist.", GatewayCommandLine.Parse(["--policies", missing]).Error);

        // Missing models and data folders are made on first use, as the defaults are.
        Assert.NotNull(GatewayCommandLine.Parse(["--models", missing, "--data", missing]).Options);

        var error = new StringWriter();
        Assert.Equal(2, ConfigCheckCli.Run(["config", "check", "--policies", missing], new StringWriter(), error));
        Assert.Equal($"inference-mesh: --policies: the folder '{missing}' does not exist.", error.ToString().Trim());
    }

    [Fact]
    public void A_config_flag_naming_a_fifo_a_device_or_a_folder_is_a_one_line_error_before_anything_opens_it()
    {
        var dir = TestPaths.NewTempDir("im-config-fifo");
        var pipe = Path.Combine(dir, "config.yaml");
        using var fifo = TestFifo.CreateWithWriterWaiting(pipe);

        // Start-up and config check opened the FIFO and waited for a writer that never came.
        (string Path, string Reason)[] cases =
        [
            (pipe, "is not a regular file (a FIFO, a device or a socket)"),
            ("/dev/zero", "is not a regular file (a FIFO, a device or a socket)"),
            (dir, "is a directory, not a file"),
        ];
        foreach (var (path, reason) in cases)
        {
            Assert.Equal($"--config: '{path}' {reason}.", GatewayCommandLine.Parse(["--config", path]).Error);

            var error = new StringWriter();
            Assert.Equal(2, ConfigCheckCli.Run(["config", "check", "--config", path], new StringWriter(), error));
            Assert.Equal($"inference-mesh: --config: '{path}' {reason}.", error.ToString().Trim());
        }
    }

    [Fact]
    public void Build_throws_the_one_line_error()
    {
        var ex = Assert.Throws<GatewayOptionsException>(() => GatewayApp.Build(["--port", "-1"]));
        Assert.Equal("--port must be from 0 to 65535 (got -1).", ex.Message);
    }

    [Fact]
    public void Models_folder_follows_xdg_data_home()
    {
        var previous = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_DATA_HOME", "/xdg/data");
            Assert.Equal("/xdg/data/inference-mesh/models", GatewayDefaults.ModelsDirectory());
            Environment.SetEnvironmentVariable("XDG_DATA_HOME", "relative/ignored");
            Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local/share/inference-mesh/models"), GatewayDefaults.ModelsDirectory());
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_DATA_HOME", previous);
        }
    }
}
