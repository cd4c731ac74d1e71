using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Native;

/// <summary>
/// The one explicit initialisation of llama.cpp: loads the pinned native libraries by full path, maps the
/// <see cref="LlamaNative"/> library names to them, routes native logging to an <see cref="ILogger"/>,
/// loads the best ggml CPU backend variant and calls <c>llama_backend_init</c>. Nothing native runs in a
/// static constructor: call <see cref="Initialize"/> once at start-up, before any other native call.
/// </summary>
public static partial class LlamaLibrary
{
    /// <summary>The llama.cpp tag the binding and its layout test are pinned to.</summary>
    public const string PinnedTag = "v0.5.0";

    /// <summary>Overrides the folder that holds the native libraries.</summary>
    public const string NativeDirectoryEnvironmentVariable = "INFERENCE_MESH_NATIVE_DIR";

    /// <summary>The libraries loaded by path, in dependency order (the file names carry the pinned tag).</summary>
    internal static readonly string[] LibraryFileNames = ["libggml-base.so", $"libggml.{PinnedTag}.so", $"libllama.{PinnedTag}.so"];

    private static readonly Lock Gate = new();
    private static LlamaLibraryInfo? s_info;
    private static IntPtr s_ggmlBase;
    private static IntPtr s_ggml;
    private static IntPtr s_llama;
    private static bool s_resolverRegistered;
    private static string? s_librariesOnly; // the folder InitializeWithoutBackends loaded, before any full Initialize

    /// <summary>True once <see cref="Initialize"/> has succeeded in this process.</summary>
    public static bool IsInitialized => Volatile.Read(ref s_info) is not null;

    /// <summary>The result of the successful initialisation, or null.</summary>
    public static LlamaLibraryInfo? Info => Volatile.Read(ref s_info);

    /// <summary>The folder used when no directory is given: $INFERENCE_MESH_NATIVE_DIR, else native/linux-x64 beside the app.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable(NativeDirectoryEnvironmentVariable) is { Length: > 0 } fromEnvironment
            ? Path.GetFullPath(fromEnvironment)
            : Path.Combine(AppContext.BaseDirectory, "native", "linux-x64");

    /// <summary>
    /// Loads and initialises llama.cpp once per process; thread-safe and idempotent. Later calls return the
    /// first result (their logger is not used: native logging goes to the first caller's logger).
    /// </summary>
    /// <param name="logger">Receives the binding's own messages and every llama.cpp / ggml log line.</param>
    /// <param name="nativeDirectory">
    /// The folder with libggml-base.so, libggml.v0.5.0.so, libllama.v0.5.0.so and libggml-cpu-*.so; default
    /// <see cref="DefaultDirectory"/>. Asking for another folder after a successful initialisation is a bug
    /// (a process can load llama.cpp only once) and throws <see cref="InvalidOperationException"/>.
    /// </param>
    /// <exception cref="LlamaLibraryLoadException">The libraries could not be loaded or no ggml backend was found; the message lists every path tried.</exception>
    public static LlamaLibraryInfo Initialize(ILogger logger, string? nativeDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        var requested = nativeDirectory is null ? null : Path.GetFullPath(nativeDirectory);

        if (Volatile.Read(ref s_info) is { } existing)
        {
            return CheckSameDirectory(existing, requested);
        }

        lock (Gate)
        {
            if (s_info is { } raced)
            {
                return CheckSameDirectory(raced, requested);
            }

            var directory = requested ?? DefaultDirectory;
            var source = nativeDirectory is not null ? "argument" : SourceOfDefault();
            if (s_librariesOnly is { } loaded)
            {
                CheckSameDirectory(loaded, directory);
            }

            try
            {
                var info = InitializeCore(logger, directory, source);
                Volatile.Write(ref s_info, info);
                return info;
            }
            catch (Exception ex)
            {
                Log.InitializeFailed(logger, ex);
                throw;
            }
        }
    }

    /// <summary>
    /// Loads the libraries and routes native logging, without loading a ggml backend: what <c>llama_model_quantize</c>
    /// needs (it converts and writes tensors with ggml-base's own code and never asks for a device). Skips ggml's
    /// scoring of every CPU variant library and the inventory a full <see cref="Initialize"/> logs, 30-50 ms of a
    /// quantising process's start. Idempotent; a later <see cref="Initialize"/> (the engine) adds the backend.
    /// </summary>
    /// <exception cref="LlamaLibraryLoadException">The libraries could not be loaded; the message lists every path tried.</exception>
    internal static void InitializeWithoutBackends(ILogger logger, string? nativeDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        var requested = nativeDirectory is null ? null : Path.GetFullPath(nativeDirectory);
        lock (Gate)
        {
            if (s_info is { } initialised)
            {
                CheckSameDirectory(initialised, requested);
                return;
            }

            var directory = requested ?? DefaultDirectory;
            if (s_librariesOnly is { } loaded)
            {
                CheckSameDirectory(loaded, directory);
                return;
            }

            try
            {
                AttachLibraries(logger, directory, nativeDirectory is not null ? "argument" : SourceOfDefault());
                LlamaNative.llama_backend_init();
                s_librariesOnly = directory;
            }
            catch (Exception ex)
            {
                Log.InitializeFailed(logger, ex);
                throw;
            }
        }
    }

    private static string SourceOfDefault() =>
        Environment.GetEnvironmentVariable(NativeDirectoryEnvironmentVariable) is { Length: > 0 } ? NativeDirectoryEnvironmentVariable : "default";

    private static LlamaLibraryInfo CheckSameDirectory(LlamaLibraryInfo info, string? requested)
    {
        CheckSameDirectory(info.Directory, requested);
        return info;
    }

    /// <summary>A process loads llama.cpp once: asking for another folder than <paramref name="loaded"/> is a bug.</summary>
    private static void CheckSameDirectory(string loaded, string? requested)
    {
        if (requested is not null && !string.Equals(Path.TrimEndingDirectorySeparator(requested), Path.TrimEndingDirectorySeparator(loaded), StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"llama.cpp is already initialised from '{loaded}'; it cannot be loaded again from '{requested}' in the same process.");
        }
    }

    /// <summary>Loads the three libraries, maps the binding's names to them and routes native logging to <paramref name="logger"/>.</summary>
    private static unsafe string[] AttachLibraries(ILogger logger, string directory, string source)
    {
        var loaded = LoadLibraries(directory, source);
        foreach (var path in loaded)
        {
            Log.LibraryLoaded(logger, path);
        }

        if (!s_resolverRegistered)
        {
            // One resolver per assembly and process; only registered once the libraries really loaded.
            NativeLibrary.SetDllImportResolver(typeof(LlamaLibrary).Assembly, Resolve);
            s_resolverRegistered = true;
        }

        // Route native logging before anything native speaks, so nothing reaches stderr.
        LlamaLogBridge.Attach(logger);
        LlamaNative.llama_log_set(LlamaLogBridge.Callback, null);
        return loaded;
    }

    private static unsafe LlamaLibraryInfo InitializeCore(ILogger logger, string directory, string source)
    {
        var loaded = AttachLibraries(logger, directory, source);

        // The CPU backend is a loadable module: ggml scores every libggml-cpu-*.so and keeps the best.
        LlamaNative.ggml_backend_load_all_from_path(directory);

        var backends = new List<string>();
        for (nuint i = 0, n = LlamaNative.ggml_backend_reg_count(); i < n; i++)
        {
            var name = NativeText.FromUtf8(LlamaNative.ggml_backend_reg_name(LlamaNative.ggml_backend_reg_get(i))) ?? "?";
            backends.Add(name);
            Log.BackendRegistered(logger, name);
        }

        var devices = new List<LlamaDeviceInfo>();
        for (nuint i = 0, n = LlamaNative.ggml_backend_dev_count(); i < n; i++)
        {
            var device = LlamaNative.ggml_backend_dev_get(i);
            var info = new LlamaDeviceInfo(
                NativeText.FromUtf8(LlamaNative.ggml_backend_dev_name(device)) ?? "?",
                NativeText.FromUtf8(LlamaNative.ggml_backend_dev_description(device)) ?? string.Empty,
                LlamaNative.ggml_backend_dev_type(device).ToString());
            devices.Add(info);
            Log.DeviceRegistered(logger, info.Name, info.Description, info.Type);
        }

        var modules = FindLoadedBackendModules(directory);
        foreach (var module in modules)
        {
            Log.BackendModuleLoaded(logger, module);
        }

        if (devices.Count == 0)
        {
            var pattern = Path.Combine(directory, "libggml-cpu-*.so");
            throw new LlamaLibraryLoadException(
                $"llama.cpp {PinnedTag} loaded from '{directory}' (from {source}) but ggml registered no backend device: " +
                $"ggml_backend_load_all_from_path found no usable module matching '{pattern}'. Paths tried:{Environment.NewLine}" +
                string.Join(Environment.NewLine, loaded.Select(p => $"  {p}: loaded").Append($"  {pattern}: no usable backend")),
                directory,
                [.. loaded, pattern],
                innerException: null);
        }

        LlamaNative.llama_backend_init();
        var systemInfo = NativeText.FromUtf8(LlamaNative.llama_print_system_info())?.Trim() ?? string.Empty;
        Log.SystemInfo(logger, systemInfo);
        Log.Initialized(logger, PinnedTag, directory);

        return new LlamaLibraryInfo(directory, PinnedTag, loaded, modules, backends, devices, systemInfo);
    }

    /// <summary>
    /// Loads the three libraries by full path; on failure frees what it loaded, registers nothing and throws
    /// <see cref="LlamaLibraryLoadException"/> listing every path with its outcome.
    /// </summary>
    private static string[] LoadLibraries(string directory, string source)
    {
        if (s_llama != IntPtr.Zero)
        {
            // Loaded by an earlier attempt that failed later (e.g. no backend): the handles stay, the resolver uses them.
            return [.. LibraryFileNames.Select(name => Path.Combine(directory, name))];
        }

        var handles = new IntPtr[LibraryFileNames.Length];
        var outcomes = new List<string>();
        var tried = new List<string>();
        for (var i = 0; i < LibraryFileNames.Length; i++)
        {
            var path = Path.Combine(directory, LibraryFileNames[i]);
            tried.Add(path);
            try
            {
                handles[i] = NativeLibrary.Load(path);
                outcomes.Add($"  {path}: loaded");
            }
            catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException or ArgumentException)
            {
                outcomes.Add($"  {path}: failed: {ex.Message}");
                for (var rest = i + 1; rest < LibraryFileNames.Length; rest++)
                {
                    outcomes.Add($"  {Path.Combine(directory, LibraryFileNames[rest])}: not tried (depends on the one above)");
                }

                for (var j = i - 1; j >= 0; j--)
                {
                    NativeLibrary.Free(handles[j]);
                }

                var directoryNote = Directory.Exists(directory) ? string.Empty : " The directory does not exist.";
                throw new LlamaLibraryLoadException(
                    $"Could not load the llama.cpp {PinnedTag} native libraries from '{directory}' (from {source}).{directoryNote} " +
                    $"Paths tried:{Environment.NewLine}{string.Join(Environment.NewLine, outcomes)}{Environment.NewLine}" +
                    $"The Engine build copies them to native/linux-x64 beside the output; pass another folder or set {NativeDirectoryEnvironmentVariable}.",
                    directory,
                    tried,
                    ex);
            }
        }

        s_ggmlBase = handles[0];
        s_ggml = handles[1];
        s_llama = handles[2];
        return [.. tried];
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) => libraryName switch
    {
        LlamaNative.LlamaLib => s_llama,
        LlamaNative.GgmlLib => s_ggml,
        LlamaNative.GgmlBaseLib => s_ggmlBase,
        _ => IntPtr.Zero,
    };

    /// <summary>The backend modules (libggml-*.so other than the ones we load) that ggml mapped from the folder.</summary>
    private static string[] FindLoadedBackendModules(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        try
        {
            var prefix = Path.Combine(directory, "libggml-");
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.IndexOf('/') is var slash and >= 0 ? line[slash..].Trim() : null)
                .OfType<string>()
                .Where(path => path.StartsWith(prefix, StringComparison.Ordinal) && !path.EndsWith("libggml-base.so", StringComparison.Ordinal))
                .Distinct(StringComparer.Ordinal)
                .ToArray();
        }
        catch (IOException)
        {
            return [];
        }
    }
}
