using System.ClientModel;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using OpenAI;

namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>
/// Starts the real gateway host (GatewayApp.Build, real Kestrel on 127.0.0.1 port 0) with the flags of one
/// test, and hands out clients for its bound address. Settable before <see cref="StartAsync"/>.
/// </summary>
internal sealed class TestEnvironment : IAsyncDisposable
{
    public const string Stories = "stories260K";

    private WebApplication? _app;

    /// <summary>The models folder; the shared test models by default.</summary>
    public string ModelsDirectory { get; set; } = TestPaths.ModelsDir;

    /// <summary>The context store's folder (<c>--data</c>): a fresh temporary folder per environment, removed on dispose.</summary>
    public string DataDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "im-data-" + Guid.NewGuid().ToString("N"));

    public int? ContextLength { get; set; }

    public int? Slots { get; set; }

    /// <summary>
    /// Decode threads; 1 by default in tests: ggml's worker threads spin-wait, and with several test
    /// hosts on a 2-core machine more threads only fight each other.
    /// </summary>
    public int Threads { get; set; } = 1;

    /// <summary>Further flags, e.g. "--max-body-bytes", "2048".</summary>
    public List<string> ExtraArgs { get; } = [];

    /// <summary>Runs after the gateway's own registrations: tests may replace services here.</summary>
    public Action<WebApplicationBuilder>? ConfigureBuilder { get; set; }

    public WebApplication App => _app ?? throw new InvalidOperationException("Call StartAsync first.");

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public OpenAIClient OpenAi => new(new ApiKeyCredential("x"), new OpenAIClientOptions { Endpoint = new Uri(BaseAddress, "/v1") });

    public static Task<TestEnvironment> StartAsync(Action<TestEnvironment>? configure = null)
    {
        var environment = new TestEnvironment();
        configure?.Invoke(environment);
        return environment.StartCoreAsync();
    }

    private async Task<TestEnvironment> StartCoreAsync()
    {
        if (ModelsDirectory == TestPaths.ModelsDir)
        {
            // Fails with a clear message (never a silent skip or a confusing 404) when the shared model is missing.
            _ = TestPaths.Stories260K;
        }

        var args = new List<string> { "--models", ModelsDirectory, "--port", "0", "--threads", Threads.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data", DataDirectory };
        if (ContextLength is { } ctx) args.AddRange(["--ctx", ctx.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (Slots is { } slots) args.AddRange(["--slots", slots.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        args.AddRange(ExtraArgs);

        _app = GatewayApp.Build([.. args], builder =>
        {
            builder.Logging.ClearProviders();
            ConfigureBuilder?.Invoke(builder);
        });
        await _app.StartAsync();
        BaseAddress = _app.GetBoundAddress();
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        return this;
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (DataDirectory.StartsWith(Path.Combine(Path.GetTempPath(), "im-data-"), StringComparison.Ordinal) && Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}
