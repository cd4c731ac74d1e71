using InferenceMesh.Engine.Native;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Hosting;

/// <summary>
/// Loads the native llama.cpp libraries when the host starts, so a broken install is reported at once
/// (with every path tried) and the first request does not pay for it. A failure is logged, not thrown:
/// the gateway keeps serving its other endpoints and reports the engine as unavailable.
/// </summary>
internal sealed partial class NativeEngineStartup(LocalModelHost host, ILogger<NativeEngineStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var info = host.InitializeNative();
            LogNativeReady(logger, info.Directory, string.Join(", ", info.BackendLibraries.Select(Path.GetFileName)));
        }
        catch (LlamaLibraryLoadException ex)
        {
            LogNativeFailed(logger, ex);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "llama.cpp v0.5.0 loaded from {Directory}; CPU backend: {Backends}")]
    private static partial void LogNativeReady(ILogger logger, string directory, string backends);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Error, Message = "The local engine is unavailable: the native llama.cpp libraries could not be loaded")]
    private static partial void LogNativeFailed(ILogger logger, Exception exception);
}
