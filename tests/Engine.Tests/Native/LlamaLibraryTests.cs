using System.Reflection;
using System.Runtime.Loader;
using InferenceMesh.Engine.Native;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Engine.Tests.Native;

public sealed class LlamaLibraryTests
{
    [Fact]
    public void Initialize_reports_the_cpu_backend_and_is_idempotent()
    {
        var first = NativeTestEnvironment.EnsureInitialized();
        var second = LlamaLibrary.Initialize(new CapturingLogger());

        Assert.Same(first, second);
        Assert.True(LlamaLibrary.IsInitialized);
        Assert.Equal(LlamaLibrary.PinnedTag, first.Tag);
        Assert.Contains("CPU", first.Backends);
        Assert.Contains(first.Devices, d => d.Type == "Cpu");
        Assert.Contains(first.BackendLibraries, path => Path.GetFileName(path).StartsWith("libggml-cpu-", StringComparison.Ordinal));
        Assert.Equal(3, first.LoadedLibraries.Count);
        Assert.Contains("CPU", first.SystemInfo, StringComparison.Ordinal);
    }

    [Fact]
    public void Initialize_from_another_directory_after_success_is_a_bug()
    {
        var info = NativeTestEnvironment.EnsureInitialized();
        var other = Path.Combine(Path.GetTempPath(), "im-not-the-native-dir");

        var error = Assert.Throws<InvalidOperationException>(() => LlamaLibrary.Initialize(NullLogger.Instance, other));
        Assert.Contains(info.Directory, error.Message, StringComparison.Ordinal);
        Assert.Same(info, LlamaLibrary.Initialize(NullLogger.Instance, info.Directory));
    }

    /// <summary>
    /// Runs in a private copy of the Engine assembly (its own statics and its own DllImport resolver slot),
    /// so it does not depend on whether this process already initialised llama.cpp successfully.
    /// </summary>
    [Fact]
    public void Initialize_from_a_missing_directory_lists_every_path_tried_and_keeps_the_cause()
    {
        var temp = TestPaths.NewTempDir("im-native-missing");
        try
        {
            var missing = Path.Combine(temp, "no-such-dir");
            var isolated = new AssemblyLoadContext("llama-load-failure").LoadFromAssemblyPath(typeof(LlamaLibrary).Assembly.Location);
            var library = isolated.GetType(typeof(LlamaLibrary).FullName!)!;
            var initialize = library.GetMethod(nameof(LlamaLibrary.Initialize))!;

            var thrown = Assert.Throws<TargetInvocationException>(() => initialize.Invoke(null, [NullLogger.Instance, missing])).InnerException!;

            Assert.Equal(typeof(LlamaLibraryLoadException).FullName, thrown.GetType().FullName);
            Assert.IsAssignableFrom<DllNotFoundException>(thrown.InnerException);
            Assert.Contains("does not exist", thrown.Message, StringComparison.Ordinal);
            foreach (var name in new[] { "libggml-base.so", $"libggml.{LlamaLibrary.PinnedTag}.so", $"libllama.{LlamaLibrary.PinnedTag}.so" })
            {
                Assert.Contains(Path.Combine(missing, name), thrown.Message, StringComparison.Ordinal);
            }

            var pathsTried = (IReadOnlyList<string>)thrown.GetType().GetProperty(nameof(LlamaLibraryLoadException.PathsTried))!.GetValue(thrown)!;
            Assert.Equal([Path.Combine(missing, "libggml-base.so")], pathsTried);
            Assert.False((bool)library.GetProperty(nameof(LlamaLibrary.IsInitialized))!.GetValue(null)!);
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
