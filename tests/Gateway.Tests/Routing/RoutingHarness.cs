using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using InferenceMesh.Gateway.Backends;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Router.Health;
using InferenceMesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Gateway.Tests.Routing;

/// <summary>
/// A gateway (real Kestrel, port 0) over the scripted local engine, with a config file naming loopback
/// upstreams as cloud backends, an optional fake clock, Trace-level log capture and resilience options.
/// </summary>
internal sealed class RoutingHarness : IAsyncDisposable
{
    public const string PublicPrompt = "What is the capital of France?";
    public const string Card = "4111 1111 1111 1111";

    private readonly List<string> _envVars = [];
    private TestEnvironment? _gateway;

    public FakeEngine Engine { get; } = new();

    public CapturingLoggerProvider Logs { get; } = new();

    public FakeTimeProvider? Time { get; set; }

    public BackendOptions Options { get; set; } = new() { RetryDelay = TimeSpan.Zero };

    /// <summary>(name, upstream, quality, key) of each cloud backend, in config order.</summary>
    public List<(string Name, LoopbackOpenAiUpstream Upstream, double Quality, string? Key)> Clouds { get; } = [];

    /// <summary>(name, type, baseUrl, quality, key) of further backends of any type (e.g. anthropic), after <see cref="Clouds"/>.</summary>
    public List<(string Name, string Type, string BaseUrl, double Quality, string? Key)> OtherBackends { get; } = [];

    /// <summary>The policies folder; the repository's <c>policies/</c> unless a test writes its own.</summary>
    public string PoliciesDirectory { get; set; } = Path.Combine(TestPaths.RepoRoot, "policies");

    /// <summary>Runs after the harness's own registrations (e.g. a test's context stage).</summary>
    public Action<WebApplicationBuilder>? Configure { get; set; }

    public TestEnvironment Gateway => _gateway ?? throw new InvalidOperationException("Start first.");

    public HttpClient Http => Gateway.Http;

    public IBackendHealth Health => Gateway.App.Services.GetRequiredService<IBackendHealth>();

    public RecordingBackendHealth CircuitSignals { get; private set; } = null!;

    public string ConfigPath { get; private set; } = null!;

    public async Task<RoutingHarness> StartAsync()
    {
        var dir = TestPaths.NewTempDir("im-routing");
        var yaml = new StringBuilder("backends:\n");
        foreach (var (name, upstream, quality, key) in Clouds)
        {
            AppendBackend(yaml, name, "openai", upstream.BaseUrl, quality, key);
        }

        foreach (var (name, type, baseUrl, quality, key) in OtherBackends)
        {
            AppendBackend(yaml, name, type, baseUrl, quality, key);
        }

        if (Clouds.Count + OtherBackends.Count == 0)
        {
            yaml.Clear().Append("backends: []\n"); // the local backend only
        }

        ConfigPath = Path.Combine(dir, "gateway.yaml");
        await File.WriteAllTextAsync(ConfigPath, yaml.ToString());

        _gateway = await TestEnvironment.StartAsync(env =>
        {
            env.ExtraArgs.AddRange(["--config", ConfigPath, "--policies", PoliciesDirectory]);
            env.ConfigureBuilder = builder =>
            {
                Engine.Register(builder);
                builder.Logging.AddProvider(Logs);
                builder.Logging.SetMinimumLevel(LogLevel.Trace);

                // The gateway quiets some categories for speed; the privacy proofs must see every line.
                builder.Services.Configure<LoggerFilterOptions>(o => o.Rules.Clear());
                builder.Services.AddSingleton(Options);
                if (Time is { } time)
                {
                    builder.Services.AddSingleton<TimeProvider>(time);
                }

                // Wraps the router's health to signal circuit changes (registered last: wins).
                var inner = builder.Services.Last(d => d.ServiceType == typeof(IBackendHealth));
                builder.Services.AddSingleton<IBackendHealth>(sp =>
                {
                    CircuitSignals = new RecordingBackendHealth((IBackendHealth)inner.ImplementationFactory!(sp));
                    return CircuitSignals;
                });
                Configure?.Invoke(builder);
            };
        });

        return this;
    }

    /// <summary>
    /// Writes a policies folder holding the repository's default policy with <paramref name="aliases"/> (YAML flow
    /// mapping, e.g. <c>{ gpt-4o-mini: { local: fake-model } }</c>) in place of its empty aliases.
    /// </summary>
    public static string DefaultPolicyWithAliases(string aliases)
    {
        var dir = TestPaths.NewTempDir("im-policies");
        var yaml = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "default.yaml"));
        var replaced = System.Text.RegularExpressions.Regex.Replace(yaml, @"(?m)^aliases: \{\}", "aliases: " + aliases);
        if (replaced == yaml)
        {
            throw new InvalidOperationException("policies/default.yaml no longer has an 'aliases: {}' line to replace.");
        }

        File.WriteAllText(Path.Combine(dir, "default.yaml"), replaced);
        return dir;
    }

    public static HttpRequestMessage Chat(string content, bool stream = false, string model = "auto", string? privacy = null, string? authorization = null)
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model,
            ["stream"] = stream,
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = content } },
        });
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = ApiAssert.Json(json) };
        if (privacy is not null) request.Headers.Add("X-InferenceMesh-Privacy", privacy);
        if (authorization is not null) request.Headers.Authorization = AuthenticationHeaderValue.Parse(authorization);
        return request;
    }

    public async Task<(HttpResponseMessage Response, string Body)> SendAsync(HttpRequestMessage request)
    {
        var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();
        return (response, body);
    }

    public static string? BackendOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-InferenceMesh-Backend", out var values) ? values.Single() : null;

    private void AppendBackend(StringBuilder yaml, string name, string type, string baseUrl, double quality, string? key)
    {
        yaml.Append(CultureInfo.InvariantCulture, $"  - name: {name}\n    type: {type}\n    baseUrl: {baseUrl}\n");
        if (key is not null)
        {
            var variable = $"IM_TEST_KEY_{Guid.NewGuid():N}";
            Environment.SetEnvironmentVariable(variable, key);
            _envVars.Add(variable);
            yaml.Append(CultureInfo.InvariantCulture, $"    apiKeyEnv: {variable}\n");
        }

        // Like the issue's acceptance block: sovereignty 0.2, any model, data retention not declared (so assumed).
        yaml.Append(CultureInfo.InvariantCulture, $"    sovereignty: 0.2\n    quality: {quality}\n    models: [\"*\"]\n");
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        foreach (var variable in _envVars)
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}

/// <summary>Passes everything to the router's health and signals each circuit state it is told.</summary>
internal sealed class RecordingBackendHealth(IBackendHealth inner) : IBackendHealth
{
    private readonly ConcurrentDictionary<(string, CircuitState), TaskCompletionSource> _signals = new();

    public void RecordSuccess(string backend, TimeSpan latency) => inner.RecordSuccess(backend, latency);

    public void RecordFailure(string backend, BackendFailureKind kind) => inner.RecordFailure(backend, kind);

    public void SetCircuit(string backend, CircuitState state)
    {
        inner.SetCircuit(backend, state);
        Signal(backend, state).TrySetResult();
    }

    public BackendHealthSnapshot Get(string backend) => inner.Get(backend);

    /// <summary>Completes when <paramref name="backend"/>'s circuit is set to <paramref name="state"/> (now or later).</summary>
    public Task WhenCircuit(string backend, CircuitState state) => Signal(backend, state).Task;

    /// <summary>Forgets earlier signals of this state (to wait for the next one).</summary>
    public void Reset(string backend, CircuitState state) => _signals.TryRemove((backend, state), out _);

    private TaskCompletionSource Signal(string backend, CircuitState state) =>
        _signals.GetOrAdd((backend, state), _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>Captures every log entry (formatted message, state values, exception text) at any level.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _entries = new();

    public IReadOnlyCollection<string> Entries => _entries;

    public string All => string.Join("\n", _entries);

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            entries.Enqueue($"{category} scope: {state}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(", ", pairs.Select(p => $"{p.Key}={p.Value}")) : string.Empty;
            entries.Enqueue($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)} {{{values}}} {exception}");
        }
    }
}
