using System.ClientModel;
using System.Diagnostics;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;
using OpenAI;
using OpenAI.Chat;

namespace InferenceMesh.Gateway.Tests.Installers;

/// <summary>
/// installers/linux/build-packages.sh, run once for the class: the .deb and the tarball it builds hold a self-contained
/// gateway that serves the real model with no .NET on PATH, the tarball's install.sh installs, upgrades and uninstalls it
/// for one user, and the systemd unit is one systemd accepts.
/// </summary>
public sealed class LinuxPackageTests(LinuxPackageTests.Packages packages) : IClassFixture<LinuxPackageTests.Packages>
{
    [Fact]
    public async Task The_deb_declares_the_version_and_dependencies_and_holds_the_gateway_the_link_and_the_user_unit()
    {
        var fields = await RunAsync("dpkg-deb", ["-f", packages.Deb, "Package", "Version", "Architecture", "Depends", "Recommends"]);
        Assert.Contains("Package: inference-mesh", fields);
        Assert.Contains($"Version: {packages.Version}", fields);
        Assert.Contains("Architecture: amd64", fields);
        Assert.Contains("libc6", fields);
        Assert.Contains("Recommends: qbittorrent-nox, serf", fields); // the default torrent engine and the mesh's membership

        var contents = await RunAsync("dpkg-deb", ["-c", packages.Deb]);
        Assert.Contains("./usr/bin/inference-mesh -> ../lib/inference-mesh/inference-mesh", contents);
        Assert.Contains("./usr/lib/systemd/user/inference-mesh.service", contents);
        Assert.Contains("./usr/lib/inference-mesh/native/linux-x64/libllama.v0.5.0.so", contents);
        Assert.Contains("./usr/lib/inference-mesh/native/linux-x64/vec0.so", contents);
        Assert.Contains("./usr/lib/inference-mesh/policies/default.yaml", contents);
        Assert.Contains("./usr/lib/inference-mesh/libcoreclr.so", contents); // self-contained: the runtime is inside
        Assert.DoesNotContain(".gguf", contents);

        // Self-contained: the runtime's own files are inside and the runtimeconfig names the frameworks it includes.
        var root = packages.Scratch("deb-runtimeconfig");
        await RunAsync("dpkg-deb", ["-x", packages.Deb, root]);
        var runtimeConfig = File.ReadAllText(Path.Combine(root, "usr", "lib", "inference-mesh", "inference-mesh.runtimeconfig.json"));
        Assert.Contains("\"includedFrameworks\"", runtimeConfig);
        Assert.Contains("Microsoft.AspNetCore.App", runtimeConfig);
    }

    [Fact]
    public async Task The_unpacked_deb_serves_the_known_greedy_story_through_its_bin_link()
    {
        var root = packages.Scratch("deb-root");
        await RunAsync("dpkg-deb", ["-x", packages.Deb, root]);
        var home = packages.Scratch("deb-home");
        var link = Path.Combine(root, "usr", "bin", "inference-mesh");
        Assert.True(File.ResolveLinkTarget(link, returnFinalTarget: false) is not null, "usr/bin/inference-mesh is a link");

        using var gateway = await GatewayProcess.StartAsync(
            ["--models", TestPaths.ModelsDir, "--threads", "1"],
            workingDirectory: home,
            executable: link,
            environment: UserEnvironment(home));
        var client = new OpenAIClient(new ApiKeyCredential("x"), new OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{gateway.Port}/v1") })
            .GetChatClient(TestEnvironment.Stories);
        var completion = await RawCompletions.GreedyAsync(gateway.Client(), maxTokens: 24, stream: false);
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..40], completion.Text);

        // The default folders are the user's own: the context store was created under HOME, nothing beside the package.
        ChatCompletion chat = await client.CompleteChatAsync([new UserChatMessage("Once upon a time")], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 4 });
        Assert.NotEmpty(chat.Content[0].Text);
        Assert.True(Directory.Exists(Path.Combine(home, ".local", "share", "inference-mesh", "data")));
        Assert.False(Directory.Exists(Path.Combine(root, "usr", "lib", "inference-mesh", "data")));
    }

    [Fact]
    public async Task The_tarball_installs_upgrades_and_uninstalls_for_one_user_and_keeps_their_models()
    {
        var unpacked = packages.Scratch("tar");
        await RunAsync("tar", ["-xzf", packages.Tarball, "-C", unpacked]);
        var folder = Assert.Single(Directory.GetDirectories(unpacked));
        var home = packages.Scratch("tar-home");
        var prefix = Path.Combine(home, "prefix");
        var models = Directory.CreateDirectory(Path.Combine(home, ".local", "share", "inference-mesh", "models")).FullName;
        File.WriteAllText(Path.Combine(models, "keep.txt"), "the user's");
        var environment = UserEnvironment(home);
        environment["XDG_CONFIG_HOME"] = Path.Combine(home, ".config");

        var install = await RunAsync(Path.Combine(folder, "install.sh"), ["--prefix", prefix], environment);
        Assert.Contains($"Installed inference-mesh {packages.Version}", install);
        var bin = Path.Combine(prefix, "bin", "inference-mesh");
        Assert.StartsWith($"inference-mesh {packages.Version} (llama.cpp v0.5.0)", await RunAsync(bin, ["--version"], environment));
        var unit = Path.Combine(home, ".config", "systemd", "user", "inference-mesh.service");
        Assert.Contains($"ExecStart={bin}\n", File.ReadAllText(unit));

        // Again over the first: an upgrade in place, and a second run must not nest a copy inside the first.
        await RunAsync(Path.Combine(folder, "install.sh"), ["--prefix", prefix], environment);
        Assert.False(Directory.Exists(Path.Combine(prefix, "lib", "inference-mesh", "inference-mesh")), "no nested copy");
        Assert.False(Directory.Exists(Path.Combine(prefix, "lib", "inference-mesh.new")));
        await RunAsync(bin, ["--version"], environment);

        var uninstall = await RunAsync(Path.Combine(folder, "install.sh"), ["--uninstall", "--prefix", prefix], environment);
        Assert.Contains("Removed", uninstall);
        Assert.False(File.Exists(bin) || Directory.Exists(Path.Combine(prefix, "lib", "inference-mesh")) || File.Exists(unit));
        Assert.Equal("the user's", File.ReadAllText(Path.Combine(models, "keep.txt")));
    }

    [Fact]
    public async Task The_installer_refuses_a_relative_prefix_and_a_file_it_did_not_make()
    {
        var unpacked = packages.Scratch("tar-refuse");
        await RunAsync("tar", ["-xzf", packages.Tarball, "-C", unpacked]);
        var script = Path.Combine(Assert.Single(Directory.GetDirectories(unpacked)), "install.sh");
        var home = packages.Scratch("refuse-home");
        var environment = UserEnvironment(home);

        var relative = await RunRawAsync(script, ["--prefix", "relative/dir"], environment);
        Assert.Equal(2, relative.ExitCode);
        Assert.Contains("absolute path", relative.Output);

        var prefix = Path.Combine(home, "prefix");
        Directory.CreateDirectory(Path.Combine(prefix, "bin"));
        File.WriteAllText(Path.Combine(prefix, "bin", "inference-mesh"), "someone else's");
        var taken = await RunRawAsync(script, ["--prefix", prefix, "--no-service"], environment);
        Assert.Equal(2, taken.ExitCode);
        Assert.Contains("not a link made by install.sh", taken.Output);
        Assert.Equal("someone else's", File.ReadAllText(Path.Combine(prefix, "bin", "inference-mesh")));
    }

    [Fact]
    public async Task Systemd_accepts_the_unit_without_a_warning()
    {
        var folder = packages.Scratch("unit");
        var unit = Path.Combine(folder, "inference-mesh.service");
        var text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "installers", "linux", "inference-mesh.service"));
        Assert.Contains("ExecStart=@BIN@", text);
        File.WriteAllText(unit, text.Replace("@BIN@", "/bin/true", StringComparison.Ordinal));

        var verify = await RunRawAsync("systemd-analyze", ["verify", unit]);
        Assert.Equal(0, verify.ExitCode);
        Assert.Equal("", verify.Output.Trim());
    }

    /// <summary>
    /// A user's environment: HOME in a scratch folder, no XDG overrides, and no DOTNET_ROOT pointing at the SDK's
    /// runtime (the package carries its own: the runtimeconfig's includedFrameworks, checked above).
    /// </summary>
    private static Dictionary<string, string?> UserEnvironment(string home) => new()
    {
        ["HOME"] = home,
        ["XDG_DATA_HOME"] = null,
        ["XDG_CONFIG_HOME"] = null,
        ["DOTNET_ROOT"] = null,
        ["DOTNET_ROOT_X64"] = null,
    };

    private static async Task<string> RunAsync(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var (exitCode, output) = await RunRawAsync(file, args, environment);
        Assert.True(exitCode == 0, $"{Path.GetFileName(file)} exited with {exitCode}: {output}");
        return output;
    }

    internal static async Task<(int ExitCode, string Output)> RunRawAsync(
        string file, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish in time");
        }

        return (process.ExitCode, (await output) + (await error));
    }

    /// <summary>Builds both packages once, with fast compression, into a scratch folder removed afterwards.</summary>
    public sealed class Packages : IAsyncLifetime
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "im-packages-" + Guid.NewGuid().ToString("N"));

        public string Deb { get; private set; } = "";

        public string Tarball { get; private set; } = "";

        public string Version { get; private set; } = "";

        public string Scratch(string name) => Directory.CreateDirectory(Path.Combine(_folder, "scratch", name)).FullName;

        public async Task InitializeAsync()
        {
            var output = Path.Combine(_folder, "out");
            var (exitCode, text) = await RunRawAsync(
                "bash",
                [Path.Combine(TestPaths.RepoRoot, "installers", "linux", "build-packages.sh"), output],
                new Dictionary<string, string?> { ["PACKAGE_COMPRESSION"] = "fast" },
                TimeSpan.FromMinutes(12));
            Assert.True(exitCode == 0, $"build-packages.sh exited with {exitCode}: {text}");
            Deb = Assert.Single(Directory.GetFiles(output, "*.deb"));
            Tarball = Assert.Single(Directory.GetFiles(output, "*.tar.gz"));
            Version = Path.GetFileName(Deb).Split('_')[1];
            Assert.Equal($"inference-mesh-{Version}-linux-x64.tar.gz", Path.GetFileName(Tarball));
        }

        public Task DisposeAsync()
        {
            Directory.Delete(_folder, recursive: true);
            return Task.CompletedTask;
        }
    }
}
