using System.Text.Json;

namespace InferenceMesh.Gateway.Tests.Hosting;

/// <summary>The runtime settings the gateway executable is built with (its runtimeconfig.json, copied beside the tests).</summary>
public sealed class RuntimeConfigTests
{
    [Fact]
    public void The_gateway_runs_with_workstation_gc()
    {
        // Inference runs in native code: server GC's per-core heaps would only add resident memory. The Web SDK
        // turns server GC on unless the project sets ServerGarbageCollection (a misspelt property is silently ignored).
        var server = Property("System.GC.Server");
        Assert.False(server.GetBoolean());
    }

    private static JsonElement Property(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "inference-mesh.runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is missing.");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.TryGetProperty(name, out var value), $"{name} is not set in {path}.");
        return value.Clone();
    }
}
